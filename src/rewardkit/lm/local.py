"""Loading a causal LM and its tokenizer from local files: a Hugging Face folder or a GGUF file.

Nothing is downloaded (``local_files_only``). A folder is what
``save_pretrained`` writes (a config, the weights, the tokenizer's files). A
GGUF file (llama.cpp's format, quantized or not) is read by ``transformers``
itself (``from_pretrained(folder, gguf_file=name)``, dequantized to torch
weights), which needs the ``gguf`` package: it is not a dependency of
rewardkit, and a clear :class:`~rewardkit.core.errors.ConfigurationError` says
to ``pip install gguf`` where it is missing. Only the architectures
``transformers`` can read from GGUF load this way (Llama, Mistral, Qwen2,
GPT-2, Phi-3, ...).

A tokenizer without a pad token gets its EOS as pad, as the samplers need one;
the model comes back in eval mode.

Example:
    >>> import tempfile
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("ab")
    >>> folder = tempfile.mkdtemp()
    >>> build_tiny_gpt2(tokenizer, n_layer=1, n_embd=8, n_head=2).save_pretrained(folder)
    >>> tokenizer.save_pretrained(folder) and None
    >>> model, loaded = load_causal_lm(folder)
    >>> model.training, loaded.decode(loaded("abba")["input_ids"])
    (False, 'abba')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from rewardkit.core.errors import ConfigurationError

__all__ = ["GGUF_MIN_VERSION", "gguf_available", "load_causal_lm"]

#: the oldest ``gguf`` that ``transformers`` reads GGUF files with
GGUF_MIN_VERSION = "0.10.0"


def gguf_available() -> bool:
    """Whether the ``gguf`` package that ``transformers`` needs to read GGUF files is installed.

    Returns:
        True when ``gguf`` (at least :data:`GGUF_MIN_VERSION`) can be imported.

    Example:
        >>> isinstance(gguf_available(), bool)
        True
    """
    from importlib import metadata

    try:
        installed = metadata.version("gguf")
    except metadata.PackageNotFoundError:
        return False
    return _release(installed) >= _release(GGUF_MIN_VERSION)


def _release(version: str) -> tuple[int, ...]:
    """The leading release numbers of a version string (``"0.10.0rc1"`` → (0, 10, 0))."""
    numbers = []
    for part in version.split(".")[:3]:
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)


def load_causal_lm(path: str | os.PathLike[str], gguf_file: str | None = None) -> tuple[Any, Any]:
    """A causal LM and its tokenizer from local files (see the module docs).

    Args:
        path: a folder holding a Hugging Face causal LM, or a ``.gguf`` file (then its
            folder is read, with the file as ``gguf_file``).
        gguf_file: the name of a GGUF file inside the folder ``path``.

    Returns:
        ``(model, tokenizer)``: the model in eval mode; the tokenizer with a pad token
        (its EOS where it had none).

    Raises:
        ConfigurationError: the folder or file does not exist, holds no causal LM that
            ``transformers`` can read, or is a GGUF file and ``gguf`` is not installed.

    Example:
        >>> load_causal_lm("/no/such/model.gguf")
        Traceback (most recent call last):
        ...
        rewardkit.core.errors.ConfigurationError: /no/such/model.gguf is not a GGUF file
    """
    folder = Path(path)
    if gguf_file is None and folder.suffix.lower() == ".gguf":
        folder, gguf_file = folder.parent, folder.name
    if gguf_file is not None:
        source = folder / gguf_file
        if not source.is_file():
            raise ConfigurationError(f"{source} is not a GGUF file")
        if not gguf_available():
            raise ConfigurationError(
                f"{source}: reading a GGUF file needs the gguf package (>= {GGUF_MIN_VERSION}), "
                "which rewardkit does not install: pip install gguf"
            )
    elif not folder.is_dir():
        raise ConfigurationError(
            f"{folder} is not a folder with a Hugging Face causal LM (nor a .gguf file)"
        )
    return _from_pretrained(folder, gguf_file)


def _from_pretrained(folder: Path, gguf_file: str | None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict[str, Any] = {"local_files_only": True}
    if gguf_file is not None:
        options["gguf_file"] = gguf_file
    source = folder / gguf_file if gguf_file is not None else folder
    try:
        tokenizer: Any = AutoTokenizer.from_pretrained(folder, **options)
        model: Any = AutoModelForCausalLM.from_pretrained(folder, **options)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{source}: cannot load a causal LM: {exc}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer
