"""Recomputing attention from a model's own weights with the Part I formula.

:func:`recompute_attention(s) <recompute_attention>` feed each layer's input
through the model's query and key projections and
:func:`attnbook.scaled_dot_product_attention`; the result equals what the
model reports, the proof that the formula is what the model computes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from attnbook.errors import UnsupportedModelError
from attnbook.ids import check_layer
from attnbook.maps.encode import check_text, encode_text, model_max_tokens
from attnbook.maps.run import forward_args
from attnbook.mechanism import scaled_dot_product_attention
from attnbook.models import load_model


def _self_attention_modules(net) -> list[tuple[Any, Any, Any, int]]:
    """Per layer: (self-attention module, query Linear, key Linear, number of heads)."""
    found = []
    for module in net.modules():
        for q_name, k_name in (("query", "key"), ("q_lin", "k_lin")):
            q, k = getattr(module, q_name, None), getattr(module, k_name, None)
            if isinstance(q, torch.nn.Linear) and isinstance(k, torch.nn.Linear):
                heads = (
                    getattr(module, "num_attention_heads", None)
                    or getattr(module, "n_heads", None)
                    or net.config.num_attention_heads
                )
                found.append((module, q, k, int(heads)))
    return found


def recompute_attention(model: str | tuple | None, text: str, layer: int) -> Tensor:
    """A layer's attention weights recomputed with :func:`attnbook.scaled_dot_product_attention`.

    The layer's input (captured with a forward hook) goes through the
    model's own query and key projections, is split into heads, and the
    Part I formula ``softmax(Q Kᵀ / sqrt(d_k) + mask)`` gives the weights.
    They equal ``transformers``' ``outputs.attentions[layer]`` (to float
    rounding): the proof that the formula is what the model computes.

    Args:
        model: as for :func:`attend`.
        text: the sentence.
        layer: 0-indexed layer.

    Returns:
        ``[H, T, T]`` weights, rows = queries.

    >>> from attnbook import attend
    >>> mine = recompute_attention(None, "The dog chased the cat.", layer=3)
    >>> theirs = attend("The dog chased the cat.").attentions[3]
    >>> bool((mine - theirs).abs().max() < 1e-5)
    True
    """
    return _recompute(model, text, layer)[0]


def recompute_attentions(model: str | tuple | None, text: str) -> Tensor:
    """Every layer's weights recomputed as in :func:`recompute_attention`, from one forward pass.

    Returns:
        ``[L, H, T, T]``, comparable with :attr:`AttentionMaps.attentions`.

    >>> from attnbook import attend
    >>> text = "Attention is all you need."
    >>> diff = recompute_attentions(None, text) - attend(text).attentions
    >>> bool(diff.abs().max() < 1e-5)
    True
    """
    return torch.stack(_recompute(model, text, None))


def _recompute(model, text: str, layer: int | None) -> list[Tensor]:
    check_text(text, "text")
    tokenizer, net = load_model(model)
    modules = _self_attention_modules(net)
    if not modules:
        raise UnsupportedModelError(
            f"cannot find query/key projections in {type(net).__name__}; recompute_attention "
            "knows BERT-style (query/key) and DistilBERT-style (q_lin/k_lin) attention."
        )
    num_layers = len(modules)
    if layer is not None:
        modules = [modules[check_layer(layer, num_layers)]]

    tensors, *_ = encode_text(tokenizer, text, None, model_max_tokens(tokenizer, net), False)
    if "token_type_ids" in tensors and "token_type_ids" not in forward_args(net):
        del tensors["token_type_ids"]

    captured: list[Tensor | None] = [None] * len(modules)

    def grabber(i):
        def grab(_module, args, kwargs):
            captured[i] = args[0] if args else kwargs["hidden_states"]

        return grab

    hooks = [
        module.register_forward_pre_hook(grabber(i), with_kwargs=True)
        for i, (module, *_) in enumerate(modules)
    ]
    try:
        with torch.inference_mode():
            net(**tensors)
    finally:
        for hook in hooks:
            hook.remove()

    results = []
    with torch.inference_mode():
        for (_, q_proj, k_proj, num_heads), x in zip(modules, captured, strict=True):
            x = x[0]  # [T, E], the layer input
            t = x.shape[0]
            q = q_proj(x).view(t, num_heads, -1).transpose(0, 1)  # [H, T, d_k]
            k = k_proj(x).view(t, num_heads, -1).transpose(0, 1)  # [H, T, d_k]
            # BERT's additive padding mask: 0 where a key may be seen, a huge negative where not.
            keep = tensors["attention_mask"][0].to(x.device)
            additive = (1.0 - keep.to(x.dtype)) * torch.finfo(x.dtype).min  # [T] over keys
            v = torch.zeros(num_heads, t, 1, dtype=x.dtype, device=x.device)  # weights only
            _, weights = scaled_dot_product_attention(q, k, v, mask=additive)
            results.append(weights)
    # Cloned outside inference mode: ordinary tensors the caller may modify.
    return [w.clone() for w in results]
