"""`vidcolor video` with several films (no Ray needed), the chunk plan of a distributed job,
and what `--cluster` says without Ray."""

from __future__ import annotations

import subprocess
import sys

from support import REPO
from vidcolor import cli
from vidcolor.video.chunks import FilmScan, plan_chunks, warmup_frames


def test_six_films_in_five_out_one_corrupt_reported(tmp_path, capsys, fake_model, make_clip,
                                                    read_video):
    reels = tmp_path / "reels"
    (reels / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.mp4", "b.mkv", "sub/c.mp4", "sub/d.mov"]):
        make_clip(reels / name, n=4 + i)
    (reels / "sub" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 200)
    loose = make_clip(tmp_path / "loose.avi", n=5)
    out = tmp_path / "out"
    code = cli.main(["video", str(reels), str(loose), "-o", str(out), "--quiet",
                     "--preset", "ultrafast"])
    err = capsys.readouterr().err
    assert code == 1
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["loose.avi", "reels/a.mp4", "reels/b.mkv", "reels/sub/c.mp4",
                       "reels/sub/d.mov"]
    assert [len(read_video(out / w)[0]) for w in written] == [5, 4, 5, 6, 7]
    lines = err.splitlines()
    assert sum("frames/s" in line for line in lines) == 5  # one line a film
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1 and "broken.mp4" in errors[0]
    assert lines[-1] == "vidcolor: 5 of 6 films done (27 frames), 1 failed"
    assert not (reels / "sub" / "broken.mp4").with_suffix(".mkv").exists()


def test_several_films_never_overwrite_without_the_option(tmp_path, capsys, fake_model, make_clip):
    (tmp_path / "in").mkdir()
    src = make_clip(tmp_path / "in" / "a.mp4", n=3)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.mp4").write_bytes(b"keep me")
    code = cli.main(["video", str(src.parent), "-o", str(tmp_path / "out"), "--quiet"])
    assert code == 1 and "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "out" / "a.mp4").read_bytes() == b"keep me"


def test_cluster_without_ray_is_one_line(tmp_path, capsys, monkeypatch, make_clip):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    src = make_clip(tmp_path / "in.mp4", n=3)
    code = cli.main(["video", str(src), "-o", str(tmp_path / "o.mp4"), "--cluster", "local:2"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "needs Ray" in err and "vidcolor[cluster]" in err
    assert not (tmp_path / "o.mp4").exists()


def test_vidcolor_imports_without_ray():
    code = ("import sys; sys.modules['ray'] = None; import vidcolor, vidcolor.cli, "
            "vidcolor.video.cluster, vidcolor.video.films; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO)
    assert done.stdout.strip() == "ok", done.stderr


def _scan(n: int, shot_starts: list[int]) -> FilmScan:
    return FilmScan(pts=[10 * i for i in range(n)], shot_starts=shot_starts)


def test_chunks_start_at_cuts_and_long_shots_get_a_warm_up_inside_the_shot():
    chunks = plan_chunks(_scan(100, [0, 10, 15, 70]), max_frames=20, warmup=8)
    # Shots 0-10 and 10-15 share a chunk; 15-70 is split in 20s; 70-100 too.
    firsts = [c.span.first_pts // 10 for c in chunks]
    assert firsts == [0, 15, 35, 55, 70, 90]
    assert [c.frames for c in chunks] == [15, 20, 20, 15, 20, 10]
    assert sum(c.frames for c in chunks) == 100
    assert [c.span.from_pts // 10 for c in chunks] == [0, 15, 27, 47, 70, 82]
    assert [c.warmup for c in chunks] == [0, 0, 8, 8, 0, 8]
    assert [c.flow_primed for c in chunks] == [False, True, True, True, True, True]
    ends = [c.span.end_pts for c in chunks]
    assert ends[:-1] == [c.span.first_pts for c in chunks[1:]] and ends[-1] is None
    assert chunks[0].segment_name == "chunk00000.vseg"
    assert plan_chunks(_scan(0, []), max_frames=20, warmup=8) == []


def test_warm_up_follows_the_strength():
    assert warmup_frames(0.0) == 0
    assert warmup_frames(0.5) < warmup_frames(0.8) < warmup_frames(0.95)
    assert warmup_frames(1.0) == warmup_frames(0.999)
    assert 0.8 ** warmup_frames(0.8) * 220 < 0.5


def test_unusable_input_among_several_is_one_line(tmp_path, capsys, fake_model, make_clip):
    src = make_clip(tmp_path / "a.mp4", n=3)
    too_long = tmp_path / ("x" * 300 + ".mp4")  # stat fails: the name is too long
    code = cli.main(["video", str(src), str(too_long), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
