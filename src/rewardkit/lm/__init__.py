"""Causal-LM plumbing, written once: load, pad, sample, cut at EOS, decode, log-probs.

Every package that samples from or scores with a causal LM (the GRPO trainer and
its multi-turn episodes, best-of-N and SMC steering, the learned reward models)
does it with these functions, so a sample, its text and its log-probability are
computed one way everywhere:

- :mod:`rewardkit.lm.named`: :func:`load`, a named model that installs offline
  (``"smollm2-135m-instruct"``, dequantized once into a cache) or any local
  folder or GGUF file;
- :mod:`rewardkit.lm.local`: :func:`load_causal_lm` from a local Hugging Face
  folder or a GGUF file (nothing is downloaded);
- :mod:`rewardkit.lm.tiny`: a character tokenizer and a tiny GPT-2 built from
  a config, for tests and labs;
- :mod:`rewardkit.lm.padding`: :func:`left_pad`, :func:`right_pad` and the
  :func:`position_ids` of a left-padded batch;
- :mod:`rewardkit.lm.tokens`: :func:`encode`, :func:`cut_at_eos`,
  :func:`decode`, :func:`single_token`;
- :mod:`rewardkit.lm.generation`: :func:`generate`, ancestral sampling at a
  temperature (or greedy decoding) over a batch of prompts;
- :mod:`rewardkit.lm.logprobs`: :func:`completion_log_probs` at the sampling
  temperature, padding-aware;
- :mod:`rewardkit.lm.scoring`: :func:`score_continuations`, per-token log-probs,
  entropies and hidden states of given continuations (the policy's own signals);
- :mod:`rewardkit.lm.sampling`: :func:`sample_completions`, k decoded samples
  per text prompt with their log-ratio to a reference model.

The package sits right above :mod:`rewardkit.core`; torch and transformers are
imported inside the functions, so ``import rewardkit.lm`` does not import them.

Example:
    >>> from rewardkit import lm
    >>> tokenizer = lm.build_char_tokenizer("0123456789+=")
    >>> model = lm.build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2)
    >>> prompt = lm.encode(tokenizer, "1+1=")
    >>> out = lm.generate(model, [prompt], pad=tokenizer.pad_token_id,
    ...                   eos=tokenizer.eos_token_id, max_new_tokens=4, repeat=2, seed=0)
    >>> completions = [lm.cut_at_eos(row, tokenizer.eos_token_id) for row in out.completions()]
    >>> texts = [lm.decode(tokenizer, c) for c in completions]
    >>> chosen, _ = lm.completion_log_probs(model, out.ids, out.attention(), out.width)
    >>> len(texts), tuple(chosen.shape) == (2, out.ids.shape[1] - out.width)
    (2, True)
"""

from rewardkit.lm.generation import Generation, generate
from rewardkit.lm.local import gguf_available, load_causal_lm
from rewardkit.lm.logprobs import completion_log_probs
from rewardkit.lm.modes import evaluating
from rewardkit.lm.named import NAMED_MODELS, NamedModel, cache_folder, load, named_model_file
from rewardkit.lm.padding import left_pad, position_ids, right_pad
from rewardkit.lm.sampling import Samples, sample_completions
from rewardkit.lm.scoring import ContinuationScore, score_continuations
from rewardkit.lm.serving import LocalServer, free_port, served_model_id
from rewardkit.lm.tiny import SPECIAL_TOKENS, build_char_tokenizer, build_tiny_gpt2
from rewardkit.lm.tokens import cut_at_eos, decode, encode, single_token

__all__ = [
    "NAMED_MODELS",
    "SPECIAL_TOKENS",
    "ContinuationScore",
    "Generation",
    "LocalServer",
    "NamedModel",
    "Samples",
    "build_char_tokenizer",
    "build_tiny_gpt2",
    "cache_folder",
    "completion_log_probs",
    "cut_at_eos",
    "decode",
    "encode",
    "evaluating",
    "free_port",
    "generate",
    "gguf_available",
    "left_pad",
    "load",
    "load_causal_lm",
    "named_model_file",
    "position_ids",
    "right_pad",
    "sample_completions",
    "score_continuations",
    "served_model_id",
    "single_token",
]
