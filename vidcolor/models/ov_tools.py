"""OpenVINO imported offline: its usage reports turned off first.

OpenVINO reports usage to Google Analytics unless told not to (``openvino-telemetry``: where
no consent file is under ``~/intel``, consent is assumed): on import (its converter announces
itself), on each conversion and from NNCF, each report sent by a process forked in a
background thread, and a client id written under ``~/intel``. vidcolor runs offline and
writes nothing outside its outputs. A forked reporter also inherits every file the process
has open at that moment and holds it until it gives up on the network (a model's weights
being written: their lock then refuses the next open of that file). So OpenVINO is imported
through :func:`import_openvino`, which turns the reports off in this process first (no
consent file is written).
"""

from __future__ import annotations

__all__ = ["import_openvino", "no_usage_reports"]


def import_openvino():
    """``import openvino``, with its usage reports off (:func:`no_usage_reports`).

    Returns
    -------
    module
        ``openvino``. ImportError where it is not installed.
    """
    no_usage_reports()
    import openvino

    return openvino


def no_usage_reports() -> None:
    """Turn OpenVINO's and NNCF's usage reports off in this process (nothing where the
    reporting package is not installed; calling it again changes nothing)."""
    try:
        import openvino_telemetry
        from openvino_telemetry.utils import opt_in_checker
    except ImportError:
        return
    # Every tool (re)initializes the shared reporter under its own name, which asks the
    # checker again: it must decline, and a reporter made before this call must stop.
    opt_in_checker.OptInChecker.check = _declined
    reporter = getattr(openvino_telemetry.Telemetry, "_SingletonMetaClass__single_instance", None)
    if reporter is not None:
        reporter.consent = False


def _declined(self, *args, **kwargs):
    from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult

    return ConsentCheckResult.DECLINED
