"""Fixtures shared by the reward-model tests."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny MLPs run fastest on one thread (the suite's default 2 spin on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
