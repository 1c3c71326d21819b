"""`vidcolor video --cluster` on a local Ray: the same film as one process, a dead worker, resume,
several films through the CLI. Skipped without Ray. One Ray for the whole module."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from support import FakeColorizer  # noqa: E402
from vidcolor import cli, color  # noqa: E402
from vidcolor.video import cluster as cluster_module  # noqa: E402
from vidcolor.video.chunks import plan_chunks, scan_film, warmup_frames  # noqa: E402
from vidcolor.video.cluster import ClusterSession  # noqa: E402
from vidcolor.video.pipeline import colorize_video, work_paths  # noqa: E402
from vidcolor.video.probe import probe  # noqa: E402

pytestmark = pytest.mark.usefixtures("local_ray")  # one Ray for the whole module


@pytest.fixture(scope="module")
def session(local_ray):
    # Per-frame colour flicker that the stabilizer smooths: its history matters at joins.
    with ClusterSession("local:2", functools.partial(FakeColorizer, noise=12)) as s:
        yield s


def _shot_clip(make_clip, tmp_path: Path) -> Path:
    # Two shots: 0-19 and 20-79; with 16-frame chunks the second shot is split three times,
    # its later joins seeded by a warm-up that starts inside the shot.
    return make_clip(tmp_path / "in.mp4", n=80, audio=True, cut_at=20)


def _ab(frames) -> np.ndarray:
    return np.stack([color.rgb_to_lab(f)[1] for f in frames]).astype(np.float64)


def test_cluster_film_equals_single_process(tmp_path, session, make_clip, read_video,
                                            stream_summary, lossless_options):
    src = _shot_clip(make_clip, tmp_path)
    options = lossless_options(segment_frames=16)
    one = colorize_video(src, tmp_path / "one.mp4", FakeColorizer(noise=12), options)
    many = session.colorize_video(src, tmp_path / "many.mp4", options)
    assert many.frames == one.frames == 80 and many.cuts == one.cuts == 2
    t_one, f_one = read_video(tmp_path / "one.mp4")
    t_many, f_many = read_video(tmp_path / "many.mp4")
    assert t_many == pytest.approx(t_one, abs=1e-6)
    s_one, s_many = stream_summary(tmp_path / "one.mp4"), stream_summary(tmp_path / "many.mp4")
    assert s_many["types"] == s_one["types"] == ["video", "audio"]
    assert s_many["packets"] == s_one["packets"]
    info = probe(src)
    chunks = plan_chunks(scan_film(info, options.window, 64, 16), 16, warmup_frames(0.8))
    # Chunks whose warm-up starts inside the second shot (after its cut at frame 20), not at
    # the cut: [first written frame, end) indexes. The others start as the film's own run.
    starts = np.cumsum([0] + [c.frames for c in chunks])
    seeded = [(starts[i], starts[i + 1]) for i, c in enumerate(chunks)
              if starts[i] - c.warmup > 20]
    assert seeded, "the plan has no warm-up join inside a shot"
    in_seeded = {i for lo, hi in seeded for i in range(lo, hi)}
    diff = [np.abs(a.astype(int) - b) for a, b in zip(f_one, f_many)]
    assert max(int(d.max()) for i, d in enumerate(diff) if i not in in_seeded) <= 2
    assert max(float(diff[i].mean()) for i in in_seeded) < 0.1  # a few pixels at most
    ab = _ab(f_many)
    step = np.abs(np.diff(ab, axis=0)).mean(axis=(1, 2, 3))  # step[i]: frame i -> i + 1
    for join, _ in seeded:
        others = [step[i] for i in range(21, 79) if i != join - 1]  # the second shot's pairs
        assert step[join - 1] <= max(others) + 1e-6, (join, step[join - 1], max(others))


def test_an_interlaced_film_on_the_cluster_keeps_its_fields(tmp_path, session, lossless_options):
    from support import read_fields, woven_frames, write_interlaced

    src = write_interlaced(tmp_path / "in.mp4", woven_frames(40, "bb"), "bb")
    options = lossless_options(segment_frames=16)
    one = colorize_video(src, tmp_path / "one.mkv", FakeColorizer(noise=12), options)
    many = session.colorize_video(src, tmp_path / "many.mkv", options)
    assert many.frames == one.frames == 40
    t_one, f_one, i_one, order_one = read_fields(tmp_path / "one.mkv")
    t_many, f_many, i_many, order_many = read_fields(tmp_path / "many.mkv")
    assert t_many == pytest.approx(t_one, abs=1e-6)
    assert all(i_many) and all(i_one) and order_many == order_one == 3  # bottom first
    # Chunks join inside the one shot, seeded by a warm-up: a few pixels may differ there.
    assert max(float(np.abs(a.astype(int) - b).mean()) for a, b in zip(f_one, f_many)) < 0.5


def test_a_worker_killed_mid_chunk_does_not_lose_the_job(tmp_path, session, crash_marker,
                                                         make_clip, read_video, lossless_options):
    src = make_clip(tmp_path / "in.mp4", n=40, cut_at=12)
    options = lossless_options(segment_frames=12)
    reference = session.colorize_video(src, tmp_path / "ref.mp4", options)
    crash_marker.unlink()  # armed: the first worker to write its second frame exits
    result = session.colorize_video(src, tmp_path / "out.mp4", options)
    assert crash_marker.exists(), "no worker died"
    assert result.frames == reference.frames == 40
    _, f_ref = read_video(tmp_path / "ref.mp4")
    _, f_out = read_video(tmp_path / "out.mp4")
    assert all(np.array_equal(a, b) for a, b in zip(f_ref, f_out))


def test_interrupted_cluster_job_resumes_with_the_chunks_left(tmp_path, session, make_clip,
                                                              read_video, lossless_options):
    src = make_clip(tmp_path / "in.mp4", n=36)
    options = lossless_options(segment_frames=12)
    dst = tmp_path / "out.mp4"

    def stop_after_a_chunk(done, total):
        if done >= 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        session.colorize_video(src, dst, options, progress=stop_after_a_chunk)
    assert not dst.exists() and work_paths(dst)[0].is_dir()
    result = session.colorize_video(src, dst, options, resume=True)
    assert result.resumed_frames >= 12 and result.frames == 36
    assert len(read_video(dst)[0]) == 36 and not work_paths(dst)[0].exists()


def test_cli_several_films_on_the_cluster_one_corrupt(tmp_path, capsys, monkeypatch, session,
                                                      make_clip, read_video, stream_summary):
    session.close()  # its actors hold the cluster's CPUs; the CLI starts its own
    monkeypatch.setattr(cli, "_model_loader", lambda args: FakeColorizer)
    reels = tmp_path / "reels"
    (reels / "b").mkdir(parents=True)
    make_clip(reels / "a.mp4", n=10, audio=True)
    make_clip(reels / "b" / "c.mkv", n=8, subtitles=True)
    (reels / "bad.mp4").write_bytes(b"not a film at all" * 100)
    out = tmp_path / "out"
    code = cli.main(["video", str(reels), "-o", str(out), "--cluster", "local:2", "--quiet",
                     "--preset", "ultrafast"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert len(read_video(out / "a.mp4")[0]) == 10
    assert len(read_video(out / "b" / "c.mkv")[0]) == 8
    assert stream_summary(out / "b" / "c.mkv")["types"] == ["video", "subtitle"]
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "bad.mp4" in errors[0]
    assert "2 of 3 films done (18 frames), 1 failed" in err
    assert "Traceback" not in err


def test_bad_cluster_value_is_one_line(tmp_path, capsys, make_clip):
    src = make_clip(tmp_path / "in.mp4", n=4)
    code = cli.main(["video", str(src), "-o", str(tmp_path / "o.mp4"), "--cluster", "local:x"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "local:N" in err
    assert cluster_module.parse_cluster("ray://head:10001") == ("ray://head:10001", None)
    assert cluster_module.parse_cluster("local:3") == (None, 3)

