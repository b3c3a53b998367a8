"""The capture step: one forward pass that keeps the attention weights and the sublayers' inputs.

:func:`capture` is the only place attnbook calls a model: it moves the inputs
to the model's device, runs the model in eval mode without gradients, asks for
``output_attentions`` (the models are loaded with eager attention, the only
implementation that returns weights), and, for the sublayers it is given,
records with forward pre-hooks what each call received — the hidden states
``[T, E]``, the encoder states of a cross-attention, and the rotary
``(cos, sin)`` a RoPE model passes its attention modules.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from attnbook.adapters.base import Sublayer
from attnbook.errors import NoAttentionError

__all__ = ["Call", "Capture", "capture", "model_device"]


@dataclass(frozen=True, eq=False)
class Call:
    """What one call of an attention sublayer received (the first sequence of the batch).

    Attributes:
        sublayer: the :class:`~attnbook.adapters.Sublayer` that was called.
        hidden: ``[T, E]`` its input hidden states (the queries' side).
        memory: ``[S, E]`` the encoder states a cross-attention reads, else ``None``.
        position_embeddings: ``(cos, sin)``, each ``[T, r]``, for a rotary
            model, else ``None``.
    """

    sublayer: Sublayer
    hidden: Tensor
    memory: Tensor | None = None
    position_embeddings: tuple[Tensor, Tensor] | None = None


@dataclass(frozen=True, eq=False)
class Capture:
    """The result of :func:`capture`.

    Attributes:
        outputs: the model's output object.
        calls: one :class:`Call` per call of a hooked sublayer, in call order
            (so a module shared by all layers, as in ALBERT, appears once per layer).
    """

    outputs: Any
    calls: list[Call] = field(default_factory=list)

    def weights(self, name: str = "attentions") -> Tensor:
        """``outputs.<name>`` (``attentions``, ``cross_attentions``, ...) as ``[L, H, Q, K]`` float32 on the CPU.

        Raises:
            NoAttentionError: the model returned no weights under that name.
        """
        per_layer = getattr(self.outputs, name, None)
        if not per_layer or any(a is None for a in per_layer):
            raise NoAttentionError(
                f"the model returned no {name} (attention weights). attnbook loads models with "
                "attn_implementation='eager'; if you passed a (tokenizer, model) pair, load the "
                "model with AutoModel.from_pretrained(..., attn_implementation='eager')."
            )
        # L x [1, H, Q, K] -> [L, H, Q, K]; cat runs outside inference mode, so the
        # result is an ordinary tensor the caller may modify.
        return torch.cat(tuple(per_layer), dim=0).float().cpu()


def model_device(model: Any) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


_SIGNATURES: dict[type, list[str]] = {}


def _bind(module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name."""
    names = _SIGNATURES.get(type(module))
    if names is None:
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        parameters = inspect.signature(module.forward).parameters.values()
        names = _SIGNATURES[type(module)] = [p.name for p in parameters if p.kind in kinds]
    return {**dict(zip(names, args, strict=False)), **kwargs}


def _first(x: Any) -> Tensor | None:
    return x[0] if isinstance(x, Tensor) else None


def _record(sublayer: Sublayer, bound: dict[str, Any]) -> Call:
    hidden = bound.get("hidden_states")
    if hidden is None:
        hidden = next(iter(bound.values()))
    memory = bound.get("key_value_states")
    if memory is None:
        memory = bound.get("encoder_hidden_states")
    rope = bound.get("position_embeddings")
    if isinstance(rope, tuple) and len(rope) == 2:
        cos, sin = rope
        rope = (cos[0], sin[0])  # [1, T, r] -> [T, r]
    else:
        rope = None
    return Call(sublayer, hidden[0], _first(memory), rope)


def capture(
    model: nn.Module,
    inputs: Mapping[str, Tensor],
    *,
    sublayers: Sequence[Sublayer] = (),
    output_attentions: bool = True,
) -> Capture:
    """Run ``model`` once on ``inputs`` and keep its attention weights and the sublayers' inputs.

    Args:
        model: a transformers model (eager attention).
        inputs: ``input_ids [1, T]`` etc. (an :class:`~attnbook.adapters.Encoded`'s
            ``inputs``, or a tokenizer's output); moved to the model's device here.
        sublayers: the sublayers whose calls to record (see :class:`Call`).
        output_attentions: ask the model for its weights.

    Returns:
        :class:`Capture`; ``capture.weights()`` gives ``[L, H, T, T]``.
    """
    device = model_device(model)
    on_device = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in inputs.items()}
    calls: list[Call] = []
    hooks = []
    for sublayer in sublayers:

        def hook(module, args, kwargs, sublayer=sublayer):
            calls.append(_record(sublayer, _bind(module, args, kwargs)))

        hooks.append(sublayer.module.register_forward_pre_hook(hook, with_kwargs=True))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            extra = {"output_attentions": True} if output_attentions else {}
            outputs = model(**on_device, **extra)
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    # Ordinary tensors (not inference tensors), so later arithmetic may use them freely.
    calls = [
        Call(
            c.sublayer,
            c.hidden.clone(),
            None if c.memory is None else c.memory.clone(),
            None
            if c.position_embeddings is None
            else (c.position_embeddings[0].clone(), c.position_embeddings[1].clone()),
        )
        for c in calls
    ]
    return Capture(outputs=outputs, calls=calls)
