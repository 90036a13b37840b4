"""Rewards from the policy's own signals: likelihoods, information gain, entropy, latents.

These terms read what the policy itself says about text (per-token
log-probs, entropies and hidden states, one forward pass through
:func:`rewardkit.lm.scoring.score_continuations`), not a verifier's verdict:

- :class:`LikelihoodReward`: log π(reference answer | prompt, own reasoning)
  and its probability variants (Likelihood-Based Reward Designs, VeriFree, RLPR);
- :class:`InformationGain`: RLP's gain of a thought for predicting the next
  tokens, against an EMA no-think baseline;
- :class:`PhaseEntropyReward`: PEAR, correctness minus the thinking phase's
  excess entropy;
- :class:`FlowReward`: RLFR, the deviation of the policy's latents from a flow
  field fitted on good completions.

Each takes the policy's model and tokenizer: pass the trainer's own objects, so
the signal follows the policy as it trains.

Example:
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=>")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> reward = LikelihoodReward(model, tokenizer, delimiter=">", append_eos=True)
    >>> reward({"prompt": ["2+2="], "completion": ["4>4"], "answer": ["4"]}).status.tolist()
    [0]
"""

from rewardkit.signals.flow import FlowReward, flow_token_rewards
from rewardkit.signals.information_gain import InformationGain, ema_update
from rewardkit.signals.likelihood import LIKELIHOOD_KINDS, LikelihoodReward, likelihood_value
from rewardkit.signals.phase_entropy import PhaseEntropyReward, phase_entropy_penalty

__all__ = [
    "LIKELIHOOD_KINDS",
    "FlowReward",
    "InformationGain",
    "LikelihoodReward",
    "PhaseEntropyReward",
    "ema_update",
    "flow_token_rewards",
    "likelihood_value",
    "phase_entropy_penalty",
]
