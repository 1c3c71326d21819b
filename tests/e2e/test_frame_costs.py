"""benchmarks.frame_costs on a tiny clip with the fake model: every step timed, totals add up."""

from __future__ import annotations

import numpy as np
from support import FakeColorizer

STEPS = {"decode (PyAV, to RGB)", "prepare (L full, L render)", "model (stack, pad, predict)",
         "analysis: cut, L8", "analysis: DIS flow both ways", "stabilizer blend",
         "finish (upsample, gamut, RGB)", "RGB->YUV (swscale)", "x264 encode"}


def test_frame_costs_times_every_step(tmp_path, make_clip):
    from benchmarks import frame_costs

    clip = make_clip(tmp_path / "c.mp4", n=12, size=(96, 128))
    result = frame_costs.measure(clip, 10, 4, FakeColorizer(), warm=4)
    assert result["frames"] == 10 and result["size"] == [128, 96]
    assert set(result["cpu_ms"]) == STEPS == set(result["wall_ms"])
    assert all(v >= 0 for v in result["cpu_ms"].values())
    assert result["cpu_ms_total"] > 0
    model = result["cpu_ms"]["model (stack, pad, predict)"]
    assert abs(result["cpu_ms_total"] - model - result["cpu_ms_outside_model"]) < 1e-9
    assert "outside the model" in frame_costs.format_table(result)


def test_finish_costs_times_the_same_colours_and_compares_outputs(tmp_path, make_clip):
    from benchmarks import finish_costs

    clip = make_clip(tmp_path / "c.mp4", n=6, size=(64, 96))
    frames = finish_costs.coloured_frames(clip, 3, 2, FakeColorizer())
    assert len(frames) == 3 and frames[0].ab.shape[-1] == 2
    timing = finish_costs.time_finish([(f.L_full, f.L_small, f.ab) for f in frames], 2)
    assert 0 < timing["process_ms"]["min"] <= timing["process_ms"]["median"]
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[1, 2, 3] = (0, 2, 1)
    assert finish_costs.difference(a, b) == {"max": 2, "pixels": 1, "of": 32}
