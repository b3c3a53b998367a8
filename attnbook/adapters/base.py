"""The adapter types: where a model's attention sublayers are, and the registry of families.

An :class:`Adapter` describes one model family (BERT-style encoders, GPT-2,
Llama, BART, ...): :meth:`Adapter.sublayers` lists every attention sublayer of a
model as a :class:`Sublayer`, which says how to compute the sublayer's queries,
keys and values from its input and what kind of attention it is. Everything
that runs a model (:func:`attnbook.attend`, :func:`attnbook.recompute_attention`,
:mod:`attnbook.analysis.norms`, ``attend_seq2seq``) reads models through this
one description, so a new family is one :func:`register_adapter` call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor, nn

from attnbook.errors import UnsupportedModelError

__all__ = [
    "Adapter",
    "Kind",
    "Stack",
    "Sublayer",
    "adapter_for",
    "find_adapter",
    "register_adapter",
    "registered_adapters",
]

Kind = Literal["self", "causal", "cross"]
"""``"self"``: every query sees every key (encoders); ``"causal"``: query ``i`` sees
keys ``0..i`` (decoders); ``"cross"``: decoder queries over encoder keys."""

Stack = Literal["encoder", "decoder"]
"""Which half of the Transformer a sublayer sits in."""

Project = Callable[[Tensor], Tensor]
"""``x [T, E] -> [heads, T, d]``: one projection split into heads."""


@dataclass(frozen=True, eq=False)
class Sublayer:
    """One attention sublayer of a model: what it is and how to read it off the module.

    The projections take one sequence's hidden states ``x [T, E]`` (the
    sublayer's input, captured by :func:`attnbook.adapters.capture`) and return
    per-head tensors; for a ``"cross"`` sublayer ``key``/``value`` take the
    encoder's output ``[S, E]`` instead.

    Attributes:
        name: the module's path in the model (``"encoder.layer.3.attention.self"``).
        module: the module whose forward computes the weights: capture hooks it,
            and transformers' ``outputs.attentions`` has one entry per call of it.
        kind: ``"self"``, ``"causal"`` or ``"cross"``.
        stack: ``"encoder"`` or ``"decoder"``.
        num_heads: ``H``, query heads.
        num_kv_heads: ``H_kv`` key/value heads (``< H`` with grouped-query
            attention: query head ``h`` uses key/value head ``h // (H / H_kv)``).
        head_dim: ``d``, the width of one head.
        query: ``x [T, E] -> [H, T, d]``, before any rotary embedding.
        key: ``x [S, E] -> [H_kv, S, d]``, before any rotary embedding.
        value: ``x [S, E] -> [H_kv, S, d]``.
        output: the output projection (``nn.Linear``, or GPT-2's ``Conv1D``)
            from the concatenated heads ``[T, H * d]`` to ``[T, E]``.
        scale: multiplies ``Q Kᵀ``; ``None`` for the usual ``1 / sqrt(d)``.
        rotary: queries and keys are rotated by the ``position_embeddings``
            ``(cos, sin)`` the model passes the module (RoPE, rotate-half
            layout; a ``cos`` narrower than ``d`` rotates only the first dims).
        window: sliding-window attention: query ``i`` sees only keys ``j`` with
            ``i - j < window``; ``None`` for no window.
        not_recomputable: why :func:`attnbook.recompute_attention` cannot
            rebuild this sublayer's weights from Q and K alone (e.g. T5's
            relative position bias), or ``None``.
    """

    name: str
    module: nn.Module
    kind: Kind
    stack: Stack
    num_heads: int
    num_kv_heads: int
    head_dim: int
    query: Project
    key: Project
    value: Project
    output: nn.Module
    scale: float | None = None
    rotary: bool = False
    window: int | None = None
    not_recomputable: str | None = None

    def __repr__(self) -> str:
        kv = f", kv_heads={self.num_kv_heads}" if self.num_kv_heads != self.num_heads else ""
        return (
            f"Sublayer({self.name!r}, kind={self.kind!r}, heads={self.num_heads}{kv}, "
            f"head_dim={self.head_dim})"
        )


@dataclass(frozen=True, eq=False)
class Adapter:
    """How attnbook reads one model family.

    Attributes:
        name: the family (``"bert"``, ``"gpt2"``, ``"llama"``, ...).
        model_types: the ``config.model_type`` values it serves.
        sublayers: ``model -> [Sublayer, ...]`` in the order the model calls
            them (encoder before decoder, layer 0 first); for a model whose
            layers share one module (ALBERT) each module appears once.
        detect: optional ``model -> bool`` for checkpoints whose
            ``model_type`` is not listed but whose modules have this family's
            shape (a BERT variant with its own name).
        encoder_decoder: the family reads two texts (BART, T5):
            :func:`attnbook.attend` refuses it.
    """

    name: str
    model_types: tuple[str, ...]
    sublayers: Callable[[nn.Module], list[Sublayer]]
    detect: Callable[[nn.Module], bool] | None = None
    encoder_decoder: bool = False

    def __repr__(self) -> str:
        return f"Adapter({self.name!r}, model_types={self.model_types!r})"

    def attention_sublayers(self, model: nn.Module) -> list[Sublayer]:
        """:attr:`sublayers` of ``model`` (its base model for a task-head checkpoint), checked.

        Raises:
            UnsupportedModelError: the family's modules are not where the adapter
                expects them.
        """
        found = self.sublayers(model)
        if not found:
            raise UnsupportedModelError(
                f"the {self.name!r} adapter found no attention sublayers in "
                f"{type(model).__name__}; register an adapter that matches its modules "
                "(attnbook.adapters.register_adapter)."
            )
        return found


_REGISTRY: list[Adapter] = []


def register_adapter(adapter: Adapter) -> Adapter:
    """Add ``adapter`` to the registry; it takes precedence over earlier ones.

    Returns ``adapter``, so a module can write ``MY = register_adapter(Adapter(...))``.

    Raises:
        UnsupportedModelError: ``adapter`` is not an :class:`Adapter`.
    """
    if not isinstance(adapter, Adapter):
        raise UnsupportedModelError(
            f"register_adapter takes an attnbook.adapters.Adapter, got {type(adapter).__name__}."
        )
    _REGISTRY.insert(0, adapter)
    return adapter


def unregister_adapter(adapter: Adapter) -> None:
    """Remove ``adapter`` (registered with :func:`register_adapter`) again."""
    _REGISTRY[:] = [a for a in _REGISTRY if a is not adapter]


def registered_adapters() -> Sequence[Adapter]:
    """The registered adapters, the one tried first first."""
    return tuple(_REGISTRY)


def model_type(model: Any) -> str:
    """``model.config.model_type``, or ``""``."""
    return str(getattr(getattr(model, "config", None), "model_type", "") or "")


def find_adapter(model: Any) -> Adapter | None:
    """The adapter for ``model``: by ``config.model_type``, else by module shape; or ``None``."""
    kind = model_type(model)
    for adapter in _REGISTRY:
        if kind and kind in adapter.model_types:
            return adapter
    for adapter in _REGISTRY:
        if adapter.detect is not None and adapter.detect(model):
            return adapter
    return None


def adapter_for(model: Any) -> Adapter:
    """:func:`find_adapter`, or a typed error that lists the known families.

    Raises:
        UnsupportedModelError: no registered adapter knows ``model``.
    """
    adapter = find_adapter(model)
    if adapter is None:
        known = ", ".join(a.name for a in reversed(_REGISTRY))
        raise UnsupportedModelError(
            f"attnbook has no adapter for {type(model).__name__} "
            f"(model_type {model_type(model)!r}); known families: {known}. Describe where its "
            "query/key/value projections are with attnbook.adapters.register_adapter(Adapter(...))."
        )
    return adapter
