"""A fast fuzz subset in CI: the same corpus as ``python -m benchmarks.fuzz --quick``.

Each case runs ``vidcolor`` on a damaged, odd or hostile input (or with odd options, aliased
outputs, a signal mid-job then ``--resume``) and must end in a correct output or one clear
error line: never a traceback, a hang, a leftover file, a modified input or a silent loss.
Most cases share one runner process with a numpy model (see ``benchmarks/fuzz.py``); the
whole corpus (600 cases, a few minutes) is ``python -m benchmarks.fuzz``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("av")

from benchmarks import fuzz  # noqa: E402


def _corpus(quick: bool) -> list:
    # Only the case list: the files of a case are made when it runs.
    with tempfile.TemporaryDirectory() as tmp:
        cases, _ = fuzz.build_cases(Path(tmp), seed=0, quick=quick)
    return cases


CASES = _corpus(quick=True)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    os.chmod(root, 0o755)  # the unprivileged cases must reach their folders
    h = fuzz.Harness(root, fuzz.Assets(root, seed=0), timeout=60.0)
    yield h
    h.close()


def test_the_subset_samples_every_kind():
    every = _corpus(quick=False)
    assert len(every) >= 300
    # Every kind but the shipped model's (seconds of TensorFlow start-up each) is sampled.
    assert {c.kind for c in CASES} == {c.kind for c in every} - {"real-model"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}:{c.name}" for c in CASES])
def test_fuzz_case(harness, case):
    outcome = harness.run(case)
    if outcome.skipped:
        pytest.skip(outcome.skipped)
    assert outcome.verdict == "ok", outcome.details()


@pytest.mark.parametrize("case", fuzz.planted_cases(), ids=lambda c: c.name)
def test_the_harness_sees_each_kind_of_failure(harness, case):
    """Failures planted in the runner (a hang, a segfault, an exception, a leftover, noise, a
    modified input, a wrong exit, a silent loss) each get their verdict; a clean run is OK."""
    outcome = harness.run(case)
    assert outcome.verdict == case.note, outcome.details()
