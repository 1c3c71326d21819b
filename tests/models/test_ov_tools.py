"""OpenVINO imported offline: no usage reports, nothing written under ~."""

import numpy as np
import pytest


def test_openvino_converts_without_usage_reports_or_files_under_home(tmp_path, monkeypatch):
    telemetry = pytest.importorskip("openvino_telemetry")
    tf = pytest.importorskip("tensorflow")
    from vidcolor.models.ov_tools import import_openvino

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("CI", "TF_BUILD", "JENKINS_URL"):  # the reporter stays quiet on CI by itself
        monkeypatch.delenv(name, raising=False)
    ov = import_openvino()
    fn = tf.function(lambda x: x * 2.0 + 1.0).get_concrete_function(
        tf.TensorSpec([None, 3], tf.float32, name="x"))
    model = ov.convert_model(fn)  # the converter (re)initializes the reporter as "OVC"
    out = ov.Core().compile_model(model, "CPU")(np.ones((1, 3), np.float32))[0]
    assert np.allclose(out, 3.0)
    reporter = telemetry.Telemetry()
    assert reporter.consent is False
    # Another tool initializing the reporter under its own name (NNCF does) stays quiet too.
    reporter.init(app_name="another tool", app_version="0", tid="G-0", backend="ga4",
                  enable_opt_in_dialog=False)
    assert reporter.consent is False
    assert list(home.iterdir()) == []  # no consent file, no client id
