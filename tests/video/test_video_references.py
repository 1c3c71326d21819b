"""Reference photos for film (``vidcolor video --reference PHOTO[@TIME]``): they colour the
frames from their time on (the whole film without one), a keyframe wins in its shot, and a bad
reference is one line before any work."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from support import KEY_AB, Flat
from vidcolor.options import Keyframe, Reference
from vidcolor.video.pipeline import work_paths

REF_AB = (-25.0, 45.0)  # what the reference photos say: yellow-green


def is_reference(ab) -> bool:
    """A frame's mean a/b is the reference's (the gamut fit of the clip's bars takes some)."""
    return ab[0] < -5 and ab[1] > 10


def is_key(ab) -> bool:
    return ab[0] > 15 and ab[1] > 10


@pytest.fixture
def clip(tmp_path, make_clip, read_video, paint_keyframe):
    """A 24-frame clip (24 fps) and a reference photo: its frame 6, painted ``REF_AB``."""
    src = make_clip(tmp_path / "clip.mp4", n=24, rate=24)
    _, frames = read_video(src)
    return src, frames, paint_keyframe(frames[6], REF_AB, tmp_path / "reference.png")


def test_reference_colours_the_frames_from_its_time_on(tmp_path, clip, read_video, run_video,
                                                       mean_ab):
    src, _, photo = clip
    run_video(src, tmp_path / "auto.mp4", model=Flat())
    run_video(src, tmp_path / "out.mp4", model=Flat(),
              references=(Reference(str(photo), 0.5),))
    _, automatic = read_video(tmp_path / "auto.mp4")
    _, out = read_video(tmp_path / "out.mp4")
    for i in range(12):  # before 0.5 s: the model's colour, as without the reference
        assert np.abs(out[i].astype(int) - automatic[i]).max() <= 2, i
        assert not is_reference(mean_ab(out[i]))
    for i in range(12, 24):  # from it on, towards the reference (as steadily as the
        # stabilizer blends: the model's colour of the frames before fades within a few)
        assert mean_ab(out[i])[1] > mean_ab(automatic[i])[1] + 10, (i, mean_ab(out[i]))
    for i in range(18, 24):
        assert is_reference(mean_ab(out[i])), (i, mean_ab(out[i]))


def test_reference_without_a_time_colours_the_whole_film(tmp_path, clip, read_video, run_video,
                                                         mean_ab):
    src, _, photo = clip
    dst = tmp_path / "out.mp4"
    run_video(src, dst, model=Flat(), references=(Reference(str(photo)),), stabilize=False)
    _, out = read_video(dst)
    for i in (0, 11, 23):
        assert is_reference(mean_ab(out[i])), (i, mean_ab(out[i]))


def test_a_keyframe_wins_in_its_shot_the_reference_elsewhere(tmp_path, make_clip, read_video,
                                                             run_video, paint_keyframe, mean_ab):
    src = make_clip(tmp_path / "cut.mp4", n=12, cut_at=7)
    _, frames = read_video(src)
    key = paint_keyframe(frames[0], KEY_AB, tmp_path / "key.png")
    photo = paint_keyframe(frames[9], REF_AB, tmp_path / "reference.png")
    dst = tmp_path / "out.mp4"
    run_video(src, dst, model=Flat(), keyframes=(Keyframe(str(key), 0.0),),
              references=(Reference(str(photo)),))
    _, out = read_video(dst)
    for i in range(7):
        assert is_key(mean_ab(out[i])), (i, mean_ab(out[i]))
    for i in range(7, 12):
        assert is_reference(mean_ab(out[i])), (i, mean_ab(out[i]))


@pytest.mark.parametrize("content", [None, b"not a picture"])
def test_cli_unreadable_reference_is_one_line_and_writes_nothing(tmp_path, clip, fake_model,
                                                                 video_cli, content):
    src, _, _ = clip
    bad = tmp_path / "bad.png"
    if content is not None:
        bad.write_bytes(content)
    dst = tmp_path / "out.mp4"
    code, err = video_cli(src, "-o", dst, "--reference", f"{bad}@1.5")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "bad.png" in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png", "clip.mp4",
                                                          "reference.png"][content is None:]


def test_cli_reference_is_refused_with_export(tmp_path, clip, video_cli):
    src, _, photo = clip
    code, err = video_cli(src, "--export-keyframes", tmp_path / "keys", "--reference", photo)
    assert code == 1 and "--reference" in err


class FlatUntilSegment(Flat):
    """Flat, interrupted (a Ctrl-C) once more than ``after`` frames were asked for and the
    job's work folder has recorded a finished segment: however the threads are scheduled,
    the interrupted run leaves something to resume."""

    def __init__(self, work, after: int):
        super().__init__()
        self.work, self.after = work, after

    def predict_ab(self, L):
        ab = super().predict_ab(L)
        if self.frames > self.after:
            deadline = time.monotonic() + 30
            while not self._segment_recorded() and time.monotonic() < deadline:
                time.sleep(0.01)
            raise KeyboardInterrupt
        return ab

    def _segment_recorded(self) -> bool:
        try:
            return bool(json.loads((self.work / "progress.json").read_text())["segments"])
        except (OSError, ValueError, KeyError):  # not written yet, or being replaced
            return False


def test_resume_with_a_reference_matches_one_run_and_refuses_a_changed_one(
        tmp_path, one_finisher, clip, read_video, run_video, paint_keyframe):
    from vidcolor.errors import VidcolorError
    src, frames, photo = clip
    kw = dict(batch_size=2, segment_frames=4, codec="ffv1",
              references=(Reference(str(photo), 0.25),))
    dst = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=FlatUntilSegment(work_paths(dst)[0], 12), **kw)
    result = run_video(src, dst, model=Flat(), resume=True, **kw)
    assert 0 < result.resumed_frames < 24 and result.frames == 24
    run_video(src, tmp_path / "one.mkv", model=Flat(), **kw)
    _, a = read_video(dst)
    _, b = read_video(tmp_path / "one.mkv")
    assert max(np.abs(x.astype(int) - y.astype(int)).max() for x, y in zip(a, b)) <= 1

    dst = tmp_path / "again.mkv"
    with pytest.raises(KeyboardInterrupt):
        run_video(src, dst, model=FlatUntilSegment(work_paths(dst)[0], 12), **kw)
    paint_keyframe(frames[6], (10.0, 10.0), photo)  # the same name, other colours
    kw["references"] = (Reference(str(photo), 0.25),)
    with pytest.raises(VidcolorError, match="other settings"):
        run_video(src, dst, model=Flat(), resume=True, **kw)
