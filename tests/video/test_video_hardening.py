"""`vidcolor video` on hostile and damaged input: no tracebacks, no lost frames, the input
never touched, nothing left behind after a refusal.

Inputs are built here (damaged packets, B-frame clips, FIFOs, sockets, links); the model is
the tests' numpy FakeColorizer, so nothing here needs TensorFlow.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import av.error
import numpy as np
import pytest

from support import FakeColorizer
from vidcolor import cli
from vidcolor.errors import OptionError, VidcolorError
from vidcolor.options import EncoderOptions, VideoOptions, Window, parse_keyframe
from vidcolor.video import decode, workdir
from vidcolor.video.decode import decode_frames
from vidcolor.video.encode import SegmentWriter, encoder_settings
from vidcolor.video.frames import batch_size_for
from vidcolor.video.pipeline import colorize_video, work_paths
from vidcolor.video.probe import probe

INVALID_DATA = 1094995529  # AVERROR_INVALIDDATA, what a demuxer says of a cut-off file


def cli_video(capsys, *args) -> tuple[int, str]:
    """Exit code and stderr of ``vidcolor video ARGS``; argparse's refusals give code 2."""
    try:
        code = cli.main(["video", *map(str, args)])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str) -> None:
    assert code in (1, 2), err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), err
    else:  # argparse: its usage line, then one error line
        assert lines[-1].startswith("vidcolor video: error:"), err


def damage(src: Path, dst: Path, packets=(15, 16, 30), seed: int = 0) -> Path:
    """Remux ``src`` with the payload of the given video packets (1-based) scrambled."""
    rng = np.random.default_rng(seed)
    with av.open(os.fspath(src)) as inp, av.open(os.fspath(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        demuxed = [(p.stream.index, p) for p in inp.demux() if p.size]
        video = [i for i, (index, _) in enumerate(demuxed)
                 if inp.streams[index].type == "video"]
        for k in packets:
            index, p = demuxed[video[k - 1]]
            data = bytearray(bytes(p))
            data[8::7] = rng.integers(0, 256, len(data[8::7]), np.uint8).tobytes()
            q = av.Packet(bytes(data))
            q.pts, q.dts, q.time_base, q.duration = p.pts, p.dts, p.time_base, p.duration
            q.is_keyframe = p.is_keyframe
            demuxed[video[k - 1]] = (index, q)
        for index, p in demuxed:
            p.stream = streams[index]
            out.mux(p)
    return dst


def tolerant_reference(path: Path) -> tuple[list[float], int]:
    """What FFmpeg's decoder can give: frame times (s) decoding packet by packet, skipping
    the packets it refuses, and how many it refused."""
    times, refused = [], 0
    with av.open(os.fspath(path)) as c:
        vs = c.streams.video[0]
        for packet in c.demux(vs):
            try:
                times += [float(f.time) for f in packet.decode()]
            except av.error.FFmpegError:
                refused += 1
    return times, refused


# --- 1. damaged video: every decodable frame, the lost ones told in one line -----------------


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_damaged_packets_keep_every_decodable_frame(tmp_path, capsys, fake_model, ext, make_clip,
                                                    read_video):
    src = make_clip(tmp_path / f"in.{ext}", n=48, size=(96, 128), audio=True)
    bad = damage(src, tmp_path / f"bad.{ext}", packets=(10, 20, 30, 40), seed=2)
    expected, refused = tolerant_reference(bad)
    assert refused >= 2 and len(expected) < 48  # the damage is real
    out = tmp_path / "o.mp4"
    code, err = cli_video(capsys, bad, "-o", out, "--quiet", "--preset", "ultrafast")
    assert code == 0, err
    times = read_video(out)[0]
    assert times == pytest.approx(expected, abs=1e-3)  # every frame, each at its own time
    warnings = [line for line in err.splitlines() if "could not be decoded" in line]
    assert len(warnings) == 1, err
    m = re.fullmatch(r"vidcolor: warning: (\d+) frames could not be decoded "
                     r"\(at (\d+\.\d\d s(, \d+\.\d\d s)*)\); the others are kept", warnings[0])
    assert m and int(m.group(1)) == refused, warnings[0]
    assert f"{refused} undecodable frames left out" in err.splitlines()[-1]
    assert "Traceback" not in err


def test_lost_frames_in_the_result_and_only_the_windows(tmp_path, capsys, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=48, size=(96, 128))
    bad = damage(src, tmp_path / "bad.mp4", packets=(10, 20, 30, 40), seed=2)
    _, refused = tolerant_reference(bad)
    model = FakeColorizer()
    whole = colorize_video(bad, tmp_path / "a.mp4", model,
                           VideoOptions(encoder=EncoderOptions(preset="ultrafast")))
    assert whole.lost_frames == refused
    # A window past all the damage loses nothing and says nothing.
    late = colorize_video(bad, tmp_path / "b.mp4", model,
                          VideoOptions(window=Window(1.75),
                                       encoder=EncoderOptions(preset="ultrafast")))
    assert late.lost_frames == 0 and late.frames == 6
    assert capsys.readouterr().err.count("could not be decoded") == 1


class _CutOff:
    """An input container whose demuxer fails where the file's data ends, as a truncated
    file's does, instead of ending cleanly (``decode`` goes through it, as PyAV's does)."""

    def __init__(self, container):
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._container.close()

    def demux(self, *args, **kw):
        for packet in self._container.demux(*args, **kw):
            if not packet.size:  # where the real demuxer would say "end of file"
                raise av.error.InvalidDataError(INVALID_DATA, "Invalid data found when "
                                                "processing input")
            yield packet

    def decode(self, *args, **kw):
        for packet in self.demux(*args, **kw):
            yield from packet.decode()


def test_demuxer_error_still_flushes_the_decoder(tmp_path, capsys, monkeypatch, make_clip):
    # The decoder's frame threads hold frames back until flushed (23 of 25 came out before).
    clip = make_clip(tmp_path / "c.mp4", n=25, size=(96, 128))
    real_open = decode.open_input
    monkeypatch.setattr(decode, "open_input", lambda path: _CutOff(real_open(path)))
    frames = list(decode_frames(probe(clip)))
    assert len(frames) == 25  # the frames still inside the decoder too
    assert [f.pts for f in frames] == sorted({f.pts for f in frames})
    err = capsys.readouterr().err
    assert "video decoding stopped early after 1.00 s" in err and "could not" not in err


# --- 2, 5. one-line errors for odd options and inputs; nothing created ----------------------


ODD_OPTIONS = [
    ["--start", "1e300"], ["--start", "-1"], ["--start", "nan"], ["--start", "inf"],
    ["--start", ""], ["--duration", "0"], ["--duration", "1e300"], ["--duration", "-2"],
    ["--duration", "nan"], ["--crf", "-5"], ["--crf", "99"], ["--crf", "1e9"], ["--crf", ""],
    ["--crf", "nan"], ["--preset", ""], ["--preset", "bogus"], ["--preset", "very fast"],
    ["--codec", ""], ["--codec", "aac"], ["--codec", "png"], ["--codec", "no-such"],
    ["--codec", "mpeg4", "--crf", "18"], ["--batch-size", "4096"], ["--batch-size", "-1"],
    ["--batch-size", "0"], ["--batch-size", "1e3"], ["--render-size", "4096"],
    ["--render-size", "0"], ["--render-size", "-5"], ["--render-size", ""],
    ["--render-size", "2048", "--batch-size", "16"], ["--stabilize-strength", "nan"],
    ["--stabilize-strength", "inf"], ["--stabilize-strength", "-1"],
    ["--stabilize-strength", ""], ["--stabilize-strength", "1e300"],
]


@pytest.mark.parametrize("args", ODD_OPTIONS, ids=" ".join)
def test_odd_option_values_are_one_line_errors(tmp_path, capsys, fake_model, args, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=4)
    before = sorted(os.listdir(tmp_path))
    code, err = cli_video(capsys, src, "-o", tmp_path / "o.mp4", "--quiet", *args)
    assert_one_line_error(code, err)
    assert sorted(os.listdir(tmp_path)) == before  # no output, work folder or partial file


@pytest.mark.parametrize("args", [["--codec", "png"], ["--crf", "-5"], ["--preset", "bogus"],
                                  ["--codec", "aac"], ["--crf", "18", "--codec", "mpeg4"]])
def test_refused_encoder_names_the_option_and_leaves_no_work_folder(tmp_path, capsys,
                                                                    fake_model, args, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=4)
    out = tmp_path / "o.mp4"
    code, err = cli_video(capsys, src, "-o", out, "--quiet", *args)
    assert_one_line_error(code, err)
    assert code == 1 and args[0] in err
    assert not work_paths(out)[0].exists() and not out.exists()


def test_encoder_settings_open_the_encoder():
    with pytest.raises(VidcolorError, match="--preset bogus"):
        encoder_settings("mp4", EncoderOptions(preset="bogus"))
    with pytest.raises(VidcolorError, match="not a video encoder"):
        encoder_settings("mp4", EncoderOptions(codec="aac"))
    with pytest.raises(VidcolorError, match="png encoder cannot make yuv420p"):
        encoder_settings("mp4", EncoderOptions(codec="png"))
    with pytest.raises(VidcolorError, match="--crf"):
        encoder_settings("mp4", EncoderOptions(codec="mpeg4", crf=10))
    s = encoder_settings("matroska", EncoderOptions(codec="libx264", crf=30), 10, (65, 64))
    assert (s.codec, s.crf, s.pix_fmt) == ("libx264", 30, "yuv420p10le")


def test_any_stage_error_without_a_segment_removes_the_work_folder(tmp_path, monkeypatch,
                                                                   make_clip):
    src = make_clip(tmp_path / "in.mp4", n=6)
    out = tmp_path / "o.mp4"

    def disk_full(self, pts, rgb):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SegmentWriter, "write", disk_full)
    with pytest.raises(VidcolorError, match="No space left"):
        colorize_video(src, out, FakeColorizer(),
                       VideoOptions(encoder=EncoderOptions(preset="ultrafast")))
    assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


def test_window_after_the_end_is_refused_before_the_work_folder(tmp_path, capsys, fake_model,
                                                                monkeypatch, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=12)  # 0.5 s

    def no_folder(self, resume):
        raise AssertionError("the work folder was made")

    monkeypatch.setattr(workdir.WorkFolder, "open", no_folder)
    code, err = cli_video(capsys, src, "-o", tmp_path / "o.mp4", "--start", "0.6")
    assert_one_line_error(code, err)
    assert "no video frames in the requested window" in err


@pytest.mark.parametrize("length", [250, 300])
def test_output_name_too_long(tmp_path, capsys, fake_model, length, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=4)
    out = tmp_path / ("x" * (length - 4) + ".mp4")
    code, err = cli_video(capsys, src, "-o", out, "--quiet")
    assert_one_line_error(code, err)
    assert "too long" in err
    assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


@pytest.mark.parametrize("link", ["symlink", "hardlink", "dotted"])
def test_output_that_is_the_input_by_another_name(tmp_path, capsys, fake_model, link, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=4)
    data = src.read_bytes()
    out = tmp_path / "o.mp4"
    if link == "symlink":
        out.symlink_to(src)
    elif link == "hardlink":
        os.link(src, out)
    else:
        out = tmp_path / "." / "sub" / ".." / "in.mp4"
        (tmp_path / "sub").mkdir()
    code, err = cli_video(capsys, src, "-o", out, "--quiet", "--overwrite")
    assert_one_line_error(code, err)
    assert "would overwrite the input" in err
    assert src.read_bytes() == data


# A symbolic link to itself: every stat fails with ELOOP, and Python's Path.resolve (before
# 3.13) raises RuntimeError on it, which ended `vidcolor video` in a traceback.
SYMLINK_LOOPS = {  # name: arguments after `video`: IN a clip, LOOP* the self-link, others
    # names in the test's folder
    "input": ["LOOP.mp4", "-o", "o.mp4"],
    "input among several": ["LOOP.mp4", "IN", "-o", "out"],
    "output": ["IN", "-o", "LOOP.mp4", "--overwrite"],
    "output's folder": ["IN", "-o", "LOOP/o.mp4"],
    "output folder of several": ["IN", "IN", "-o", "LOOP"],
    "export-keyframes folder": ["IN", "--export-keyframes", "LOOP"],
}


@pytest.mark.parametrize("case", SYMLINK_LOOPS)
def test_a_symbolic_link_loop_is_a_one_line_error(tmp_path, capsys, fake_model, case, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=4)
    loop = tmp_path / ("LOOP.mp4" if "LOOP.mp4" in SYMLINK_LOOPS[case] else "LOOP")
    loop.symlink_to(loop.name)
    args = [str(src) if a == "IN" else a if a.startswith("-") else str(tmp_path / a)
            for a in SYMLINK_LOOPS[case]]
    code, err = cli_video(capsys, *args, "--quiet")
    assert_one_line_error(code, err)
    assert loop.name in err
    assert sorted(os.listdir(tmp_path)) == sorted(["in.mp4", loop.name])
    assert os.readlink(loop) == loop.name


# --- 3. a hang: inputs that are not regular files -------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "folder", "dev_zero", "socket"])
def test_non_regular_input_is_refused_at_once(tmp_path, kind):
    if kind == "fifo":
        src = tmp_path / "pipe.mp4"
        os.mkfifo(src)
    elif kind == "folder":
        src = tmp_path / "folder.mp4"
        src.mkdir()
    elif kind == "dev_zero":
        src = Path("/dev/zero")
    else:
        src = tmp_path / "s.mp4"
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(os.fspath(src))
        except OSError as e:  # a socket path has a short length limit
            sock.close()
            pytest.skip(f"cannot make a socket there: {e}")
    # In a process of its own: a FIFO nobody writes to would block the test forever.
    code = "import sys; from vidcolor.cli import main; sys.exit(main(sys.argv[1:]))"
    try:
        done = subprocess.run([sys.executable, "-c", code, "video", os.fspath(src), "-o",
                               os.fspath(tmp_path / "o.mp4"), "--quiet"],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"vidcolor video blocked on a {kind}")
    finally:
        if kind == "socket":
            sock.close()
    assert_one_line_error(done.returncode, done.stderr)
    assert not (tmp_path / "o.mp4").exists()


# --- 2. an input this process may not read --------------------------------------------------


@pytest.mark.parametrize("locked_side", ["input", "output"])
def test_unreadable_paths_are_one_line(tmp_path, capsys, fake_model, monkeypatch,
                                       locked_side, make_clip):
    """Simulated, so it runs as root too: every stat of a path inside ``locked`` fails with
    EACCES, as it does inside a folder this user may not search."""
    locked = tmp_path / "locked"
    locked.mkdir()
    src = make_clip((locked if locked_side == "input" else tmp_path) / "in.mp4", n=4)
    out = (tmp_path if locked_side == "input" else locked) / "o.mp4"
    real_stat = os.stat

    def stat(path, *args, **kw):
        if os.fspath(path).startswith(os.fspath(locked) + os.sep):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_stat(path, *args, **kw)

    monkeypatch.setattr(os, "stat", stat)
    code, err = cli_video(capsys, src, "-o", out, "--quiet")
    assert_one_line_error(code, err)
    assert "Permission denied" in err


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _readable_by_all(folder: Path) -> None:
    """chmod a+rX, all the way down: a clone made under umask 077 copies as private."""
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, 0o755)
        for name in files:
            os.chmod(Path(root) / name, 0o644)
    folder.chmod(0o755)


@pytest.fixture(scope="module")
def as_other_user():
    """The command prefix, working folder and PYTHONPATH that run this vidcolor as an ordinary
    user: as root, nobody (setpriv), with a world-readable copy of the package first on the
    path, since the checkout may be in a folder nobody may enter (a clone in a private
    folder); skipped, saying why, when nobody cannot run this Python with its packages."""
    if os.geteuid() != 0:
        yield [], None, os.environ.get("PYTHONPATH", "")
        return
    if not shutil.which("setpriv"):
        pytest.skip("as root, needs setpriv to drop to another user")
    import vidcolor

    with tempfile.TemporaryDirectory() as lib:
        shutil.copytree(Path(vidcolor.__file__).parent, Path(lib) / "vidcolor",
                        ignore=shutil.ignore_patterns("__pycache__"))
        _readable_by_all(Path(lib))
        path = os.pathsep.join(filter(None, [lib, os.environ.get("PYTHONPATH")]))
        home = Path(lib) / "home"  # numba caches compiled kernels there (the copy is root's)
        home.mkdir(mode=0o777)
        home.chmod(0o777)
        # The modules `vidcolor video` needs, with their packages (av, numpy...), which a
        # virtual environment in a private folder hides from nobody.
        imports = "import vidcolor.cli, vidcolor.video.films, vidcolor.video.pipeline"
        probe = subprocess.run([*NOBODY, sys.executable, "-c", f"{imports}; "
                                "print(vidcolor.__file__)"], cwd=lib, capture_output=True,
                               env={**os.environ, "PYTHONPATH": path, "HOME": str(home)},
                               text=True, timeout=120)
        if probe.returncode != 0 or not probe.stdout.strip().startswith(lib):
            said = (probe.stderr.strip().splitlines() or [probe.stdout.strip()])[-1]
            pytest.skip(f"the user nobody cannot run {sys.executable} with vidcolor's "
                        f"packages (a virtual environment in a private folder?): {said}")
        yield NOBODY, lib, path


@pytest.mark.parametrize("case", ["file_000", "input_in_700", "output_in_700"])
def test_unreadable_paths_really(case, as_other_user, make_clip):
    """The real thing, for an ordinary user (root runs the command as nobody, setpriv): an
    unreadable input, one in a folder the user may not search, an output in such a folder."""
    run_as, cwd, pythonpath = as_other_user
    with tempfile.TemporaryDirectory() as folder:  # pytest's tmp_path is private to root
        base = Path(folder)
        base.chmod(0o777)
        private = base / "private"
        private.mkdir()
        src = make_clip((private if case == "input_in_700" else base) / "in.mp4", n=4)
        out = (private if case == "output_in_700" else base) / "o.mp4"
        src.chmod(0o000 if case == "file_000" else 0o644)
        private.chmod(0o700)
        code = "import sys; from vidcolor.cli import main; sys.exit(main(sys.argv[1:]))"
        done = subprocess.run([*run_as, sys.executable, "-c", code, "video", os.fspath(src),
                               "-o", os.fspath(out), "--quiet"], capture_output=True, text=True,
                              timeout=120, cwd=cwd,
                              env={**os.environ, "HOME": folder, "PYTHONPATH": pythonpath})
        assert_one_line_error(done.returncode, done.stderr)
        assert "Permission denied" in done.stderr
        left = {"in.mp4", "private"} if case != "input_in_700" else {"private"}
        assert set(os.listdir(base)) - {".cache", ".config"} == left


# --- 3. memory bounded by the options --------------------------------------------------------


def test_batch_size_bounded_by_render_and_frame_size():
    with pytest.raises(VidcolorError, match="batch size 4096 at render size 256"):
        VideoOptions(batch_size=4096)
    with pytest.raises(VidcolorError, match="at most 128 frames"):
        VideoOptions(batch_size=129, render_size=512)
    assert VideoOptions(batch_size=512).batch_size == 512
    with pytest.raises(VidcolorError, match="render size must be at most 2048"):
        VideoOptions(render_size=4096)
    with pytest.raises(VidcolorError, match="3840x2160 frames"):
        batch_size_for(256, 256, 2160, 3840)
    assert batch_size_for(None, 256, 4320, 7680) <= 32  # the default shrinks for 8K frames
    assert batch_size_for(None, 2048, 480, 640) == 8


def test_window_and_encoder_values_bounded():
    for bad in (dict(start=1e300), dict(start=float("inf")), dict(start=-0.5),
                dict(duration=float("nan")), dict(duration=0), dict(start=10**400)):
        with pytest.raises(VidcolorError):
            Window(**bad)
    for bad in (dict(crf=64), dict(crf=-1), dict(preset="a b"), dict(codec="x" * 65),
                dict(codec="lib\0x264")):
        with pytest.raises(VidcolorError):
            EncoderOptions(**bad)
    assert Window(1e6, 1e6).start == 1e6


def test_option_errors_know_their_field():
    for fields, name in ((dict(crf=-1), "crf"), (dict(start=-1.0), "start"),
                         (dict(duration=0), "duration"), (dict(codec="a b"), "codec"),
                         (dict(preset="a b"), "preset")):
        with pytest.raises(OptionError) as caught:
            VideoOptions.from_fields(**fields)
        error = caught.value
        assert error.field == name and str(error).startswith(f"--{name} must be")
        assert error.for_field(name) == str(error).removeprefix("--")  # a form's spelling
    with pytest.raises(OptionError, match="^--keyframe 'x.png'") as caught:
        parse_keyframe("x.png")
    assert caught.value.field == "keyframes"
    with pytest.raises(OptionError, match="--crf 10") as caught:
        encoder_settings("mp4", EncoderOptions(codec="mpeg4", crf=10))
    # Pickled (to another process) or copied, it comes back whole.
    again = pickle.loads(pickle.dumps(caught.value))
    assert (type(again), again.field, str(again)) == (OptionError, "crf", str(caught.value))
    assert again.for_field("crf") == "crf 10: the mpeg4 encoder has no constant rate factor"


def test_audio_a_muxer_refuses_at_the_header_is_re_encoded(tmp_path, capsys, make_clip,
                                                           stream_summary, run_video):
    # .mov takes an Opus stream when it is added and refuses it only when writing the header.
    src = make_clip(tmp_path / "in.webm", n=8, audio=True, codec="libvpx-vp9",
                    audio_codec="libopus")
    result = run_video(src, tmp_path / "out.mov")
    assert result.frames == 8 and result.report.reencoded == {1: "aac"}
    assert stream_summary(tmp_path / "out.mov")["types"] == ["video", "audio"]
    assert not work_paths(tmp_path / "out.mov")[0].exists()
