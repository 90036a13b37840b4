"""The hand-computable bigram model, as a fixture (torch is imported only when it is used,
so a core-only install skips these tests instead of failing to collect them)."""

from typing import Any

import pytest


@pytest.fixture
def bigram() -> tuple[Any, Any]:
    from tests.bigram import make_bigram

    return make_bigram()
