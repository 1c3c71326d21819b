"""`vidcolor serve` over another project's network (an ONNX file, DDColor's convention)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
pytest.importorskip("httpx")
pytest.importorskip("onnxruntime")

from support import EXAMPLE_PHOTO, tiny_onnx_colorizer  # noqa: E402
from vidcolor import color  # noqa: E402
from vidcolor.models.runtimes import load_color_model  # noqa: E402


def test_serve_colours_with_an_onnx_file(make_client, tmp_path):
    net = tiny_onnx_colorizer(tmp_path / "net.onnx")
    client = make_client(model=load_color_model(net, kind="ddcolor"))
    grey = np.asarray(Image.open(EXAMPLE_PHOTO).convert("RGB").resize((96, 64)))
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "PNG")
    r = client.post("/api/v1/colorize",
                    files={"file": ("scan.png", buffer.getvalue(), "image/png")})
    assert r.status_code == 200, r.text
    assert "(ONNX, sha256 " in r.headers["x-vidcolor-provenance"]
    out = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))
    assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(grey)).max() < 0.6
    assert np.abs(out[..., 0].astype(int) - out[..., 2]).mean() > 3
