"""benchmarks.frame_costs on a tiny clip with the fake model: every step timed, totals add up."""

from __future__ import annotations

from support import FakeColorizer

STEPS = {"decode (PyAV, to RGB)", "prepare (L full, L render)", "model (stack, pad, predict)",
         "analysis: cut, L8", "analysis: DIS flow both ways", "stabilizer blend", "upsample a/b",
         "gamut fit + Lab->RGB", "RGB->YUV (swscale)", "x264 encode"}


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
