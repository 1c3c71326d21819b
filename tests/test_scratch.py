"""Work arrays kept per thread (vidcolor.scratch)."""

import threading

import numpy as np

from vidcolor import scratch


def test_kept_arrays_are_made_again_only_for_a_new_key_and_per_thread():
    first = scratch.kept("test.kept", (2, 3), lambda: np.zeros((2, 3)))
    assert scratch.kept("test.kept", (2, 3), lambda: np.ones(1)) is first
    other = scratch.kept("test.kept", (4, 5), lambda: np.zeros((4, 5)))
    assert other is not first and other.shape == (4, 5)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(
        scratch.kept("test.kept", (4, 5), lambda: np.zeros((4, 5)))))
    thread.start()
    thread.join()
    assert seen[0] is not other  # another thread has its own
