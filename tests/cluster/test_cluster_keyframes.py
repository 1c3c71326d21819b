"""Colour keyframes and reference photos with `vidcolor video --cluster`: a keyframe's shot stays
one chunk and its file travels with that chunk, the reference photos' files with every chunk, so
the cluster colours the film as one process does. Skipped
without Ray; one local Ray for the module (conftest's ``local_ray``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from support import KEY_AB, Flat  # noqa: E402
from vidcolor import cli  # noqa: E402
from vidcolor.errors import VidcolorError  # noqa: E402
from vidcolor.options import Keyframe, Reference  # noqa: E402
from vidcolor.video import cluster as cluster_module  # noqa: E402
from vidcolor.video.chunks import FilmScan, plan_chunks, scan_film, warmup_frames  # noqa: E402
from vidcolor.video.cluster import ClusterSession  # noqa: E402
from vidcolor.video.keyframes import PlacedKeyframe, place_keyframes  # noqa: E402
from vidcolor.video.pipeline import colorize_video, work_paths  # noqa: E402
from vidcolor.video.probe import probe  # noqa: E402

REF_AB = (-25.0, 45.0)  # a reference photo's colour: yellow-green, unlike the keyframes'
SECOND_AB = (40.0, -40.0)  # the second shot's keyframe: magenta, unlike KEY_AB and the model
RATE = 24
CUT = 12     # the clip's cut: shots 0-11 and 12-39
CHUNK = 8    # frames a chunk: both shots are longer
KEY_FRAMES = (6, 30)  # a keyframe in the middle of each shot: the backward pass matters

pytestmark = pytest.mark.usefixtures("local_ray")


def is_first(ab) -> bool:
    return ab[0] > 15 and ab[1] > 10


def is_second(ab) -> bool:
    return ab[0] > 15 and ab[1] < -10


@pytest.fixture(scope="module")
def session(local_ray):
    # The model's colour is one constant: any other colour came from a keyframe.
    with ClusterSession("local:2", Flat) as s:
        yield s


@pytest.fixture
def film(tmp_path, make_clip, read_video,
         paint_keyframe) -> tuple[Path, tuple[Keyframe, Keyframe]]:
    src = make_clip(tmp_path / "in.mp4", n=40, audio=True, cut_at=CUT, rate=RATE)
    _, frames = read_video(src)
    first = paint_keyframe(frames[KEY_FRAMES[0]], KEY_AB, tmp_path / "first.png")
    second = paint_keyframe(frames[KEY_FRAMES[1]], SECOND_AB, tmp_path / "second.png")
    return src, (Keyframe(str(first), KEY_FRAMES[0] / RATE),
                 Keyframe(str(second), KEY_FRAMES[1] / RATE))


def _key(name: str, pts: int) -> PlacedKeyframe:
    return PlacedKeyframe(Keyframe(name, pts / 1000, sha256="0" * 64), pts)


def test_a_keyframes_shot_is_one_chunk_however_long():
    # Shots 0-5, 6-29 (a keyframe between frames 19 and 20) and 30-49; 8 frames a chunk.
    scan = FilmScan(pts=[100 * i for i in range(50)], shot_starts=[0, 6, 30])
    plain = plan_chunks(scan, 8, 3)
    assert [c.frames for c in plain] == [6, 8, 8, 8, 8, 8, 4]  # the middle shot split
    chunks = plan_chunks(scan, 8, 3, [_key("k.png", 1950), _key("late.png", 5000)])
    assert [c.frames for c in chunks] == [6, 24, 8, 8, 4]
    assert [c.warmup for c in chunks] == [0, 0, 0, 3, 3]  # other shots split as before
    assert chunks[1].span.from_pts == chunks[1].span.first_pts == 600
    assert chunks[1].span.end_pts == 3000
    # It colours the first frame at or after its pts; one past the film's end colours none.
    assert chunks[1].options == {"keyframes": [
        {"number": 0, "name": "k.png", "time": 1.95, "sha256": "0" * 64, "pts": 1950}]}
    assert all(not c.options for i, c in enumerate(chunks) if i != 1)


@pytest.mark.parametrize("stabilize", [True, False])  # without it, cuts are found for keyframes
def test_cluster_with_keyframes_equals_one_process(tmp_path, session, film, stabilize, read_video,
                                                   lossless_options, mean_ab):
    src, keys = film
    options = lossless_options(segment_frames=CHUNK, keyframes=keys, stabilize=stabilize)
    info = probe(src)
    chunks = plan_chunks(scan_film(info, options.window, 64, 16), CHUNK, warmup_frames(0.8),
                         place_keyframes(info, options))
    assert [c.frames for c in chunks] == [CUT, 40 - CUT]  # each shot whole, with its keyframe
    one = colorize_video(src, tmp_path / "one.mp4", Flat(), options)
    done = []  # frames done as the driver stores each chunk: the plan the job ran
    many = session.colorize_video(src, tmp_path / "many.mp4", options,
                                  progress=lambda frames, total: done.append(frames))
    assert sorted(set(done)) in ([0, CUT, 40], [0, 40 - CUT, 40])
    assert many.frames == one.frames == 40
    assert many.cuts == one.cuts == (2 if stabilize else 0)
    t_one, f_one = read_video(tmp_path / "one.mp4")
    t_many, f_many = read_video(tmp_path / "many.mp4")
    assert t_many == pytest.approx(t_one, abs=1e-6)
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(f_one, f_many)) <= 2
    # Each keyframe's colour fills its own shot, before the keyframe too, and not the other.
    ab = [mean_ab(f) for f in f_many]
    assert all(is_first(ab[i]) and not is_second(ab[i]) for i in range(CUT)), ab[:CUT]
    assert all(is_second(ab[i]) and not is_first(ab[i]) for i in range(CUT, 40)), ab[CUT:]


def test_resume_on_the_cluster_refuses_a_changed_keyframe(tmp_path, session, film, read_video,
                                                          lossless_options, paint_keyframe,
                                                          mean_ab):
    src, keys = film
    dst = tmp_path / "out.mp4"

    def stop_after_a_chunk(done, total):
        if done >= CUT:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        session.colorize_video(src, dst, lossless_options(segment_frames=CHUNK, keyframes=keys),
                               progress=stop_after_a_chunk)
    assert (work_paths(dst)[0] / "progress.json").exists()
    _, frames = read_video(src)
    painted = Path(keys[1].path).read_bytes()
    # Same name, other colours:
    paint_keyframe(frames[KEY_FRAMES[1]], (10.0, 10.0), Path(keys[1].path))
    changed = (keys[0], Keyframe(keys[1].path, keys[1].time))
    with pytest.raises(VidcolorError, match="other settings"):
        session.colorize_video(src, dst,
                               lossless_options(segment_frames=CHUNK, keyframes=changed),
                               resume=True)
    assert not dst.exists()
    # A file changed after its options were made is refused too, before any work.
    other = tmp_path / "other.mp4"
    with pytest.raises(VidcolorError, match="second.png: the keyframe changed"):
        session.colorize_video(src, other,
                               lossless_options(segment_frames=CHUNK, keyframes=keys))
    assert not work_paths(other)[0].exists()
    # The keyframe as it was: the job continues with the chunk holding it.
    Path(keys[1].path).write_bytes(painted)
    result = session.colorize_video(src, dst,
                                    lossless_options(segment_frames=CHUNK, keyframes=keys),
                                    resume=True)
    # Either chunk may have been the first done; the other is done now, with its keyframe.
    assert result.resumed_frames in (CUT, 40 - CUT) and result.frames == 40
    _, out = read_video(dst)
    assert all(is_first(mean_ab(f)) for f in out[:CUT])
    assert all(is_second(mean_ab(f)) for f in out[CUT:])


def test_cli_keyframe_on_the_cluster(tmp_path, capsys, monkeypatch, session, film, read_video,
                                     mean_ab):
    src, keys = film
    started = []

    class Borrowed:
        """The module's session, standing in for the one the CLI would start."""

        def __init__(self, cluster, load_model):
            started.append(cluster)

        colorize_video = staticmethod(session.colorize_video)

        def close(self):
            pass

    monkeypatch.setattr(cluster_module, "ClusterSession", Borrowed)
    out = tmp_path / "out.mp4"
    base = ["video", str(src), "-o", str(out), "--cluster", "local:2", "--quiet",
            "--preset", "ultrafast"]
    # A bad keyframe is refused in one line before the cluster starts.
    (tmp_path / "text.png").write_text("not a picture")
    code = cli.main(base + ["--keyframe", f"{tmp_path / 'text.png'}@0"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.splitlines()) == 1 and "text.png" in err, err
    assert not started and not out.exists()
    # Exporting keyframes writes stills in this process: no cluster for it.
    code = cli.main(["video", str(src), "--export-keyframes", str(tmp_path / "keys"),
                     "--cluster", "local:2"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.splitlines()) == 1 and "--cluster" in err, err
    assert not started and not (tmp_path / "keys").exists()
    code = cli.main(base + ["--keyframe", f"{keys[1].path}@{keys[1].time}"])
    err = capsys.readouterr().err
    assert code == 0 and started == ["local:2"], err
    _, frames = read_video(out)
    assert len(frames) == 40
    assert all(is_second(mean_ab(f)) for f in frames[CUT:])
    assert not any(is_second(mean_ab(f)) for f in frames[:CUT])


def test_cluster_with_a_reference_photo_equals_one_process(tmp_path, session, film, read_video,
                                                           paint_keyframe, lossless_options,
                                                           mean_ab):
    src, _ = film
    _, frames = read_video(src)
    photo = paint_keyframe(frames[20], REF_AB, tmp_path / "photo.png")
    # From 1 s (frame 24) on; chunks of 8 frames without the stabilizer: exact joins.
    options = lossless_options(segment_frames=CHUNK, stabilize=False,
                               references=(Reference(str(photo), 1.0),))
    one = colorize_video(src, tmp_path / "one.mp4", Flat(), options)
    many = session.colorize_video(src, tmp_path / "many.mp4", options)
    assert many.frames == one.frames == 40
    _, f_one = read_video(tmp_path / "one.mp4")
    _, f_many = read_video(tmp_path / "many.mp4")
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(f_one, f_many)) <= 2
    ab = [mean_ab(f) for f in f_many]
    assert all(a[0] < -5 and a[1] > 10 for a in ab[24:]), ab[24:]  # the reference's colour
    assert not any(a[0] < -5 and a[1] > 10 for a in ab[:24]), ab[:24]  # the model's before

    # A photo changed after its options were made is refused before any work.
    paint_keyframe(frames[20], (10.0, 10.0), photo)
    with pytest.raises(VidcolorError, match="photo.png: the reference photo changed"):
        session.colorize_video(src, tmp_path / "again.mp4", options)
    assert not (tmp_path / "again.mp4").exists()
