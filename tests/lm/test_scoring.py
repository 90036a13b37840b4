"""score_continuations against hand-computed log-probs, entropies and hidden states."""

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.scoring import score_continuations
from tests.bigram import GT, Q_A, Q_DEFAULT, A, B, entropy, make_bigram


@pytest.fixture
def bigram():
    return make_bigram()


def test_log_probs_entropies_and_hidden_by_hand(bigram):
    model, _ = bigram
    # row 0: context "b", continuation "ab"; row 1: context "ab>", continuation ">"
    scores = score_continuations(model, [[B], [A, B, GT]], [[A, B], [GT]], pad=0, hidden_layer=1)
    first, second = scores
    assert first.log_probs == pytest.approx(np.log([Q_DEFAULT[A], Q_A[B]]))
    assert first.entropies == pytest.approx([entropy(Q_DEFAULT), entropy(Q_A)])
    assert first.total == pytest.approx(np.log(0.5 * 0.55))
    # the hidden state predicting token t is the one-hot of token t-1 (doubled at layer 1)
    assert first.hidden.tolist() == (2 * np.eye(7)[[B, A]]).tolist()
    assert second.log_probs == pytest.approx([np.log(Q_DEFAULT[GT])])
    layers = score_continuations(model, [[B]], [[A]], pad=0, hidden_layer=(0, 1))[0].hidden
    assert layers.shape == (1, 2, 7) and layers[0, 1].tolist() == (2 * np.eye(7)[B]).tolist()


def test_batching_and_padding_change_nothing(bigram):
    model, _ = bigram
    contexts, continuations = [[B], [A, B, GT, A], [GT]], [[A, B, B], [], [B]]
    together = score_continuations(model, contexts, continuations, pad=0)
    alone = [score_continuations(model, [c], [x], pad=0, batch_size=1)[0]
             for c, x in zip(contexts, continuations, strict=True)]  # fmt: skip
    for a, b in zip(together, alone, strict=True):
        assert a.log_probs == pytest.approx(b.log_probs)
    assert together[1].log_probs.shape == (0,)


def test_bad_input_is_refused(bigram):
    model, _ = bigram
    with pytest.raises(ConfigurationError, match="one each"):
        score_continuations(model, [[A]], [], pad=0)
    with pytest.raises(ConfigurationError, match="at least one token"):
        score_continuations(model, [[]], [[A]], pad=0)
    with pytest.raises(ConfigurationError, match="temperature"):
        score_continuations(model, [[A]], [[A]], pad=0, temperature=0)
