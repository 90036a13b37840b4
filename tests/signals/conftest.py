"""The hand-computable bigram model, as a fixture."""

from typing import Any

import pytest

from tests.bigram import BigramLM, make_bigram


@pytest.fixture
def bigram() -> tuple[BigramLM, Any]:
    return make_bigram()
