"""Issue 17, pictures and models: hostile and damaged input gives one-line errors, never a
traceback, a hang, a stray library message, or a written input.

Inputs are made here; a fake model stands in except where the real one is the point (the
model store, and the stderr of the real command).
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from support import REPO
from vidcolor import cli, imageio
from vidcolor.colorize import ImageColorizer
from vidcolor.errors import VidcolorError
from vidcolor.evaluate import evaluate_folder
from vidcolor.imageio import read_image
from vidcolor.models import store
from vidcolor.options import MAX_RENDER_SIZE, ImageOptions
from vidcolor.photos import colorize_files, plan_outputs


@pytest.fixture
def fake_model(monkeypatch, picture_fake):
    """`vidcolor image` with the fake model; loading is counted (it must not happen at all
    when the command is refused first)."""
    loads = []

    def load(directory=None):
        loads.append(directory)
        return picture_fake()

    monkeypatch.setattr(store, "load_model", load)
    return loads


def run_image(capsys, *args) -> tuple[int, str]:
    code = cli.main(["image", *map(str, args)])
    return code, capsys.readouterr().err


def assert_one_error(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), err
    for word in words:
        assert word in lines[0], (word, lines[0])


# --- 1. the input is never written ---------------------------------------------------------

def _aliases(tmp_path: Path, src: Path) -> dict[str, Path]:
    """Other names of ``src``: the same path spelt otherwise, a symbolic and a hard link."""
    os.symlink(src, tmp_path / "link.png")
    os.link(src, tmp_path / "hard.png")
    return {"same": src, "spelt": src.parent / ".." / src.parent.name / src.name,
            "symlink": tmp_path / "link.png", "hardlink": tmp_path / "hard.png"}


@pytest.mark.parametrize("alias", ["same", "spelt", "symlink", "hardlink"])
def test_a_single_input_is_never_its_own_output(tmp_path, capsys, fake_model, alias, scene_picture,
                                                save_picture):
    (tmp_path / "in").mkdir()
    src = save_picture(tmp_path / "in" / "base.png", scene_picture())
    before = src.read_bytes()
    dst = _aliases(tmp_path, src)[alias]
    code, err = run_image(capsys, src, "-o", dst, "--overwrite")
    assert code == 1
    assert_one_error(err, "would overwrite the input")
    assert src.read_bytes() == before and not fake_model  # refused before the model loads


def test_unusable_output_paths_are_refused_before_any_work(tmp_path, capsys, fake_model,
                                                           scene_picture, save_picture):
    src = save_picture(tmp_path / "a.png", scene_picture())
    code, err = run_image(capsys, src, "-o", tmp_path / ("x" * 250 + ".png"))
    assert code == 1
    assert_one_error(err, "too long")
    (tmp_path / "in").mkdir()
    save_picture(tmp_path / "in" / "b.png", scene_picture())
    (tmp_path / "out" / "b.png").mkdir(parents=True)  # a folder where an output would go
    code, err = run_image(capsys, tmp_path / "in", "-o", tmp_path / "out", "--overwrite")
    assert code == 1
    assert_one_error(err, "b.png", "folder")
    assert not fake_model


def test_a_folder_is_never_its_own_output(tmp_path, capsys, fake_model, scene_picture,
                                          save_picture):
    album = tmp_path / "album"
    (album / "sub").mkdir(parents=True)
    save_picture(album / "a.png", scene_picture(seed=1))
    save_picture(album / "sub" / "b.jpg", scene_picture(seed=2))
    before = {p: p.read_bytes() for p in album.rglob("*") if p.is_file()}
    os.symlink(album, tmp_path / "same")
    for output in (album, tmp_path / "same", str(album) + "/"):
        code, err = run_image(capsys, album, "-o", output, "--overwrite")
        assert code == 1
        assert_one_error(err, "would overwrite the input")
    # The output folder above an input folder: its pictures' outputs are the inputs again.
    code, err = run_image(capsys, album / "sub", album / "a.png", "-o", album, "--overwrite")
    assert code == 1 and "would overwrite the input" in err
    assert {p: p.read_bytes() for p in album.rglob("*") if p.is_file()} == before
    assert not fake_model


def test_one_inputs_output_is_another_input(tmp_path, picture_fake, scene_picture, save_picture):
    (tmp_path / "pics").mkdir()
    (tmp_path / "out" / "pics").mkdir(parents=True)
    first = save_picture(tmp_path / "pics" / "a.png", scene_picture(seed=1))
    # The folder's a.png goes to out/pics/a.png: that is the other input.
    second = save_picture(tmp_path / "out" / "pics" / "a.png", scene_picture(seed=2))
    before = second.read_bytes()
    inputs = [tmp_path / "pics", second]
    with pytest.raises(VidcolorError, match="would overwrite the input"):
        plan_outputs(inputs, tmp_path / "out")
    with pytest.raises(VidcolorError, match="would overwrite the input"):
        colorize_files(inputs, tmp_path / "out", ImageColorizer(picture_fake()), overwrite=True)
    assert second.read_bytes() == before and not (tmp_path / "out" / "a.png").exists()
    # An output folder inside the input folder is still fine: it is not read as input.
    jobs, _ = plan_outputs([tmp_path / "pics"], tmp_path / "pics" / "colour")
    assert jobs == [(first, tmp_path / "pics" / "colour" / "a.png")]


def test_eval_sheet_never_replaces_a_measured_picture(tmp_path, picture_fake, scene_picture,
                                                      save_picture):
    (tmp_path / "photos").mkdir()
    picture = save_picture(tmp_path / "photos" / "a.png", scene_picture())
    before = picture.read_bytes()
    with pytest.raises(VidcolorError, match="would overwrite the input"):
        evaluate_folder(tmp_path / "photos", model=picture_fake(), sheet=picture)
    with pytest.raises(VidcolorError, match="contact sheet"):
        evaluate_folder(tmp_path / "photos", model=picture_fake(), sheet=tmp_path / "s.bmp")
    assert picture.read_bytes() == before


# --- 2. one-line errors instead of tracebacks ----------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _reshape_one(path: Path) -> None:
    with np.load(path) as data:
        weights = {k: data[k] for k in data.files}
    weights[sorted(weights)[0]] = np.zeros((3, 3), np.float32)
    with open(path, "wb") as f:
        np.savez(f, **weights)


CONFIGS = {
    "a list": [1, 2],
    "build not an object": {"format": 1, "arch": "fusion", "build": "x"},
    "unknown arch": {"format": 1, "arch": "gamma", "build": {}},
    "render_size text": {"format": 1, "arch": "alpha", "build": {}, "render_size": "big"},
    "render_size 0": {"format": 1, "arch": "alpha", "build": {}, "render_size": 0},
    "render_size huge": {"format": 1, "arch": "alpha", "build": {}, "render_size": 10 ** 6},
    "unknown build argument": {"format": 1, "arch": "alpha", "build": {"depth": 3}},
    "decode not numbers": {"format": 1, "arch": "alpha", "build": {}, "decode": {"mix": "x"}},
}


@pytest.mark.parametrize("damage", [*CONFIGS, "truncated weights", "weights of other shapes"])
def test_a_damaged_model_folder_is_a_one_line_error(tmp_path, capsys, tiny_model_dir, damage,
                                                    scene_picture, save_picture):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)  # a copy of conftest's saved model, damaged
    if damage in CONFIGS:
        (model / "config.json").write_text(json.dumps(CONFIGS[damage]))
    else:
        (_truncate if damage == "truncated weights" else _reshape_one)(model / "weights.npz")
    with pytest.raises(VidcolorError) as info:
        store.load_model(model)
    assert str(model) in str(info.value) and "\n" not in str(info.value)
    src = save_picture(tmp_path / "x.png", scene_picture())
    code, err = run_image(capsys, src, "-o", tmp_path / "y.png", "--model", model)
    assert code == 1
    assert_one_error(err, str(model))


def test_render_size_is_bounded_where_options_are_checked(tmp_path, capsys, fake_model,
                                                          scene_picture, save_picture):
    assert ImageOptions(render_size=MAX_RENDER_SIZE).render_size == MAX_RENDER_SIZE
    with pytest.raises(VidcolorError, match=str(MAX_RENDER_SIZE)):
        ImageOptions(render_size=MAX_RENDER_SIZE + 1)
    with pytest.raises(VidcolorError, match=str(MAX_RENDER_SIZE)):
        ImageOptions.from_dict({"render_size": 100000})
    src = save_picture(tmp_path / "x.png", scene_picture())
    code, err = run_image(capsys, src, "-o", tmp_path / "y.png", "--render-size", "100000")
    assert code == 1
    assert_one_error(err, str(MAX_RENDER_SIZE))
    assert not fake_model and not (tmp_path / "y.png").exists()
    (tmp_path / "photos").mkdir()
    save_picture(tmp_path / "photos" / "a.png", scene_picture())
    assert cli.main(["eval", str(tmp_path / "photos"), "--render-size", "100000"]) == 1
    assert_one_error(capsys.readouterr().err, str(MAX_RENDER_SIZE))
    assert not fake_model
    for command in ("image", "eval"):
        help_text = " ".join(_subcommand_help(command).split())
        assert f"at most {MAX_RENDER_SIZE}" in help_text and "GB" in help_text


def _subcommand_help(command: str) -> str:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()


@pytest.fixture
def unreadable(monkeypatch):
    """Make some paths unreadable as chmod 000 would, also for root (who reads everything):
    every way of opening them (``open``, ``os.open``) fails with EACCES."""
    denied: set[str] = set()
    real_open, real_os_open = builtins.open, os.open

    def check(file):
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) in denied:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))

    def fake_open(file, *args, **kwargs):
        check(file)
        return real_open(file, *args, **kwargs)

    def fake_os_open(path, *args, **kwargs):
        check(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    return lambda path: denied.add(os.path.abspath(path))


def test_an_unreadable_picture_is_a_one_line_error(tmp_path, capsys, fake_model, unreadable,
                                                   picture_fake, scene_picture, save_picture):
    for name in ("secret.png", "secret.tif"):  # TIFFs have a fallback reader of their own
        src = save_picture(tmp_path / name, scene_picture())
        unreadable(src)
        code, err = run_image(capsys, src, "-o", tmp_path / f"out-{name}")
        assert code == 1
        assert_one_error(err, name, "Permission denied")
    (tmp_path / "in").mkdir()
    unreadable(save_picture(tmp_path / "in" / "a.png", scene_picture(seed=1)))
    save_picture(tmp_path / "in" / "b.png", scene_picture(seed=2))
    report = colorize_files([tmp_path / "in"], tmp_path / "out", ImageColorizer(picture_fake()))
    assert [src.name for src, _ in report.failures] == ["a.png"]
    assert report.outputs == [tmp_path / "out" / "b.png"]


def test_pictures_one_pixel_thin_or_long_are_coloured(tmp_path, picture_fake):
    """A tile spanning a whole axis (a strip of film scanned as a picture, a one-pixel line)
    is at the picture's border on both sides: its blending weights must still be an array."""
    (tmp_path / "in").mkdir()
    shapes = {"dot": (1, 1), "line": (1, 300), "strip": (3, 700), "column": (600, 2)}
    for name, (h, w) in shapes.items():
        rgb = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(tmp_path / "in" / f"{name}.png")
    for options in (ImageOptions(tile=32), ImageOptions(render_size=1)):
        report = colorize_files([tmp_path / "in"], tmp_path / "out",
                                ImageColorizer(picture_fake(), options), overwrite=True)
        assert not report.failures and len(report.outputs) == len(shapes)
        for name, shape in shapes.items():
            assert read_image(tmp_path / "out" / f"{name}.png").rgb.shape == shape + (3,)


def _finishes(fn, seconds: float = 30.0):
    """``fn()``'s result (or exception), failing the test instead of hanging it if it blocks."""
    outcome = {}

    def run():
        try:
            outcome["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifos_and_folders_named_like_pictures(tmp_path, capsys, fake_model, scene_picture,
                                               save_picture):
    (tmp_path / "in").mkdir()
    os.mkfifo(tmp_path / "in" / "pipe.png")
    (tmp_path / "in" / "folder.jpg").mkdir()
    save_picture(tmp_path / "in" / "real.png", scene_picture())
    for path, words in ((tmp_path / "in" / "pipe.png", ("pipe.png", "not a regular file")),
                        (tmp_path / "in" / "folder.jpg", ("folder.jpg", "folder"))):
        with pytest.raises(VidcolorError) as info:
            _finishes(lambda: read_image(path))
        assert all(word in str(info.value) for word in words), info.value
    code, err = _finishes(lambda: run_image(capsys, tmp_path / "in" / "pipe.png", "-o",
                                            tmp_path / "o.png"))
    assert code == 1
    assert_one_error(err, "pipe.png", "not a picture file or folder")
    # In a folder, neither is taken for a picture; the real one is done.
    code, err = _finishes(lambda: run_image(capsys, tmp_path / "in", "-o", tmp_path / "out"))
    assert code == 0 and err == ""
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["real.png"]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_garbage_idat(path: Path) -> Path:
    """The PNG at ``path``, its image data made random bytes, not zlib data, in one IDAT chunk
    with a correct CRC (the header kept valid): only decoding the pixels shows the damage."""
    data = path.read_bytes()
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunks.append((kind, data[at + 8:at + 8 + length]))
        at += 12 + length
    size = sum(len(body) for kind, body in chunks if kind == b"IDAT")
    garbage = b"\0" + bytes(np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8))
    before = [c for c in chunks[:-1] if c[0] != b"IDAT"]  # the header and any ancillary chunks
    path.write_bytes(data[:8] + b"".join(_png_chunk(*c) for c in before)
                     + _png_chunk(b"IDAT", garbage) + _png_chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_png_whose_image_data_is_not_zlib_is_refused(tmp_path, capsys, fake_model, dtype,
                                                       scene_picture, save_picture):
    # Pillow read the EXIF of 8-bit PNGs by loading them, and took the failure for damaged
    # EXIF: the picture was coloured from a blank image.
    src = _png_with_garbage_idat(save_picture(tmp_path / "broken.png",
                                              scene_picture(dtype=dtype)))
    code, err = run_image(capsys, src, "-o", tmp_path / "out.png")
    assert code == 1
    assert_one_error(err, "broken.png", "cannot read image")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args", [["LOOP.png", "-o", "o.png"], ["IN", "-o", "LOOP.png"],
                                  ["IN", "-o", "LOOP/o.png"], ["pics", "-o", "LOOP"]],
                         ids=["input", "output", "output's folder", "output folder"])
def test_a_symbolic_link_loop_is_a_one_line_error(tmp_path, capsys, fake_model, args,
                                                   scene_picture, save_picture):
    # Python's Path.resolve (before 3.13) raises RuntimeError on a link to itself.
    (tmp_path / "pics").mkdir()
    src = save_picture(tmp_path / "pics" / "in.png", scene_picture())
    loop = tmp_path / ("LOOP.png" if "LOOP.png" in args else "LOOP")
    loop.symlink_to(loop.name)
    code, err = run_image(capsys, *[src if a == "IN" else a if a.startswith("-")
                                    else tmp_path / a for a in args], "--overwrite")
    assert code == 1
    assert_one_error(err, loop.name, "symbolic links")
    assert sorted(os.listdir(tmp_path)) == sorted(["pics", loop.name])
    assert os.listdir(tmp_path / "pics") == ["in.png"]


# --- 3. TIFF orientation -------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_tiff_orientation_tag_is_applied(tmp_path, mode, compression, picture_fake, scene_picture):
    upright = scene_picture(48, 32)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # 32 x 48, as a camera on its side
    if mode == "L":
        upright, stored = upright[..., 1], stored[..., 1]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    Image.fromarray(stored).save(tmp_path / "cam.tif", exif=exif, compression=compression)
    picture = read_image(tmp_path / "cam.tif")
    assert picture.rgb.shape == (48, 32, 3)
    np.testing.assert_array_equal(picture.rgb[..., 1], upright if mode == "L" else upright[..., 1])
    assert not colorize_files([tmp_path / "cam.tif"], tmp_path / "out.tif",
                              ImageColorizer(picture_fake())).failures
    assert read_image(tmp_path / "out.tif").rgb.shape == (48, 32, 3)


# --- 4. damaged EXIF -----------------------------------------------------------------------

# The EXIF Orientation entry, little-endian: tag 0x0112, SHORT, 1 value, 6.
_ORIENTATION_ENTRY = struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)


def _ifd(entries: list[bytes], header: bytes = b"II*\x00") -> bytes:
    """A little-endian EXIF (TIFF) block of one IFD."""
    return header + struct.pack("<IH", 8, len(entries)) + b"".join(entries) + b"\0\0\0\0"


def _damaged_jpeg(path: Path, rgb: np.ndarray, old: bytes, new: bytes) -> Path:
    """A JPEG with EXIF Orientation 6 whose bytes ``old`` in the APP1 segment become ``new``."""
    Image.fromarray(rgb).save(path, quality=95, exif=b"Exif\0\0" + _ifd([_ORIENTATION_ENTRY]))
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    return path


# name: (format, bytes replaced or the whole EXIF block, by what, turned upright by 6)
DAMAGED_EXIF = {
    "ascii orientation": ("jpg", _ORIENTATION_ENTRY,
                          struct.pack("<HHI4s", 0x0112, 2, 2, b"x\0\0\0"), False),
    "float orientation": ("jpg", _ORIENTATION_ENTRY,
                          struct.pack("<HHIf", 0x0112, 11, 1, float("nan")), False),
    "undefined orientation": ("jpg", _ORIENTATION_ENTRY,
                              struct.pack("<HHI4s", 0x0112, 7, 4, b"abcd"), False),
    # 255 entries claimed, one there: Pillow warns, and the one entry is still good.
    "entry count past the block": ("jpg", b"\x01\x00" + _ORIENTATION_ENTRY,
                                   b"\xff\x00" + _ORIENTATION_ENTRY, True),
    "png, broken TIFF header": ("png", None, _ifd([_ORIENTATION_ENTRY], header=b"XX*\x00"),
                                False),
    "png, ascii orientation": ("png", None,
                               _ifd([struct.pack("<HHI4s", 0x0112, 2, 2, b"6\0\0\0")]), False),
}


def _damaged_exif_picture(folder: Path, damage: str, rgb: np.ndarray) -> Path:
    suffix, old, new, _ = DAMAGED_EXIF[damage]
    path = folder / f"damaged.{suffix}"
    if old is not None:
        return _damaged_jpeg(path, rgb, old, new)
    Image.fromarray(rgb).save(path, exif=new)
    return path


@pytest.mark.filterwarnings("error")  # Pillow's "Corrupt EXIF data" warnings must not escape
@pytest.mark.parametrize("damage", DAMAGED_EXIF)
def test_pictures_with_damaged_exif_are_coloured(tmp_path, capsys, damage, picture_fake,
                                                 scene_picture):
    rgb = scene_picture(40, 56)
    path = _damaged_exif_picture(tmp_path, damage, rgb)
    # A bad value is orientation 1 (as stored); an intact entry in a damaged block still counts.
    shape = (56, 40, 3) if DAMAGED_EXIF[damage][3] else rgb.shape
    assert read_image(path).rgb.shape == shape
    out = tmp_path / f"out{path.suffix}"
    assert not colorize_files([path], out, ImageColorizer(picture_fake())).failures
    assert read_image(out).rgb.shape == shape
    assert capsys.readouterr().err == ""


# --- 5. nothing on stderr but vidcolor's own lines -----------------------------------------

def _tiff_with_a_tag_of_unknown_type(path: Path, rgb16: np.ndarray) -> Path:
    """A 16-bit TIFF that decodes, with one private tag of a type no reader knows (99): tifffile
    logs an error about it on its logger."""
    tifffile.imwrite(path, rgb16, photometric="rgb", extratags=[(65000, "s", 0, "hello", True)])
    data = bytearray(path.read_bytes())
    at = data.find(struct.pack("<HH", 65000, 2))
    data[at + 2:at + 4] = struct.pack("<H", 99)
    path.write_bytes(bytes(data))
    return path


def test_decoders_say_nothing_about_what_vidcolor_ignores(tmp_path, capfd, scene_picture):
    rgb16 = scene_picture(30, 40, np.uint16)
    picture = read_image(_tiff_with_a_tag_of_unknown_type(tmp_path / "tag.tif", rgb16))
    np.testing.assert_array_equal(picture.rgb, rgb16)
    # A broken 16-bit PNG: libpng's own message becomes part of the one-line error.
    cv2.imwrite(str(tmp_path / "deep.png"), rgb16)
    data = bytearray((tmp_path / "deep.png").read_bytes())
    data[data.find(b"IDAT") + 8] ^= 0xFF
    (tmp_path / "deep.png").write_bytes(bytes(data))
    with pytest.raises(VidcolorError, match="libpng") as info:
        read_image(tmp_path / "deep.png")
    assert "\n" not in str(info.value)
    assert capfd.readouterr().err == ""


def test_pillows_pixel_limit_gives_way_to_vidcolors(tmp_path, monkeypatch, scene_picture,
                                                    save_picture):
    src = save_picture(tmp_path / "a.png", scene_picture(60, 50))  # 3000 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # as Pillow's 89 MP to an 88 MP scan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning, let alone the error
        assert read_image(src).rgb.shape == (60, 50, 3)
    monkeypatch.setattr(imageio, "max_picture_pixels", lambda: 2999)
    tiff = save_picture(tmp_path / "b.tif", scene_picture(60, 50, np.uint16))
    for path in (src, tiff):
        with pytest.raises(VidcolorError, match="megapixels") as info:
            read_image(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert imageio.max_picture_pixels() < 2 ** 31


def _stderr_test_pictures(folder: Path, scene_picture) -> None:
    """Pictures of several sizes (each a new network shape: retraces), one large enough to
    tile, a JPEG whose EXIF makes Pillow warn, and a TIFF whose tag makes tifffile log."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(70, 90), (96, 64), (150, 120)]):
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        rgb = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))
        Image.fromarray(rgb).save(folder / f"p{i}.png")
    _damaged_exif_picture(folder, "entry count past the block", scene_picture(40, 56))
    _tiff_with_a_tag_of_unknown_type(folder / "tag.tif", scene_picture(50, 60, np.uint16))


def test_the_commands_print_only_their_own_lines(tmp_path, scene_picture):
    """The real command with the shipped model, as a user runs it (stderr not a terminal, so
    no progress bars): every line on stderr is vidcolor's."""
    pytest.importorskip("keras")
    if not (store.DEFAULT_MODEL_DIR / "weights.npz").is_file():
        pytest.skip("the shipped model is not here")
    _stderr_test_pictures(tmp_path / "in", scene_picture)
    env = {**os.environ, "PYTHONWARNINGS": "default"}  # what a user's Python shows
    commands = [["image", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--tile", "32",
                 "--render-size", "64"],
                ["image", str(tmp_path / "in" / "p2.png"), "-o", str(tmp_path / "one.png"),
                 "--tile", "64"],
                ["eval", str(tmp_path / "in"), "--render-size", "64"]]
    for args in commands:
        done = subprocess.run([sys.executable, "-m", "vidcolor.cli", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        strays = [line for line in done.stderr.splitlines() if not line.startswith("vidcolor:")]
        assert not strays, (args[0], strays[:5])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "damaged.jpg", "p0.png", "p1.png", "p2.png", "tag.tif"]


def test_an_unreadable_subfolder_is_an_error_not_a_silent_loss(tmp_path, monkeypatch,
                                                               scene_picture, save_picture):
    # Root can read any folder, so os.scandir is made to refuse one as it would a user.
    (tmp_path / "in" / "sub").mkdir(parents=True)
    save_picture(tmp_path / "in" / "a.png", scene_picture(20, 24))
    save_picture(tmp_path / "in" / "sub" / "b.png", scene_picture(20, 24))
    locked = os.fspath(tmp_path / "in" / "sub")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(VidcolorError, match="sub: cannot read this folder"):
        plan_outputs([tmp_path / "in"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_name_with_a_line_break_stays_one_line(tmp_path, capsys, fake_model):
    src = tmp_path / "bad\nname.png"
    src.write_bytes(b"not a picture")
    assert cli.main(["image", str(src), "-o", str(tmp_path / "out.png")]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:") and "\\n" in lines[0]
    assert "<_io" not in lines[0]  # no Python repr in a user's message
