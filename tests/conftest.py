"""Shared test set-up."""

import pytest

from vidcolor.log import attach_stderr_handler, logger


@pytest.fixture(autouse=True)
def library_log_on_stderr():
    """The library's notes and warnings on stderr as ``vidcolor: ...`` lines, as the CLI
    shows them, so tests that call the library directly can read them with capsys."""
    handler = attach_stderr_handler()
    yield
    logger.removeHandler(handler)
