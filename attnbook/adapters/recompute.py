"""Attention weights rebuilt from a sublayer's input with Part I's formula.

``softmax(Q Kᵀ · scale + mask)`` with the model's own query and key
projections (:class:`~attnbook.adapters.Sublayer`), its rotary embedding where
it has one, its grouped key/value heads, and the masks built here from what the
sublayer is: padding over keys, causal for a decoder, a sliding window where
the family uses one. :func:`attnbook.recompute_attention` is this for every
layer of one text.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from attnbook.adapters.base import adapter_for
from attnbook.adapters.capture import Call, capture
from attnbook.adapters.encode import encode
from attnbook.errors import EncoderDecoderModelError, UnsupportedModelError
from attnbook.ids import check_layer
from attnbook.mechanism import causal_mask, scaled_dot_product_attention
from attnbook.position import rotate_half

__all__ = ["recompute_call", "recompute_layers", "rotate"]


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """RoPE in the rotate-half layout with given angles: ``x [H, T, d]``, ``cos``/``sin`` ``[T, r]``.

    Only the first ``r <= d`` dimensions are rotated (GPT-NeoX's partial
    rotary); the rest pass unchanged. With ``r = d`` and the default angles this
    is :func:`attnbook.position.rotary`.
    """
    r = cos.shape[-1]
    turned, kept = x[..., :r], x[..., r:]
    return torch.cat((turned * cos + rotate_half(turned) * sin, kept), dim=-1)


def recompute_call(call: Call, keep: Tensor | None = None) -> Tensor:
    """The weights ``[H, T, S]`` of one sublayer call, from its captured input.

    Args:
        call: a :class:`~attnbook.adapters.Call` recorded by :func:`~attnbook.adapters.capture`.
        keep: ``[S]`` the attention mask over keys (1 = a real token, 0 = padding),
            or ``None`` for no padding.

    Raises:
        UnsupportedModelError: the sublayer's scores are not ``Q Kᵀ`` alone
            (:attr:`Sublayer.not_recomputable` says why).
    """
    sub = call.sublayer
    if sub.not_recomputable:
        raise UnsupportedModelError(
            f"cannot recompute the weights of {sub.name!r} from its queries and keys: "
            f"{sub.not_recomputable}. Read them with attnbook.attend instead."
        )
    x = call.hidden  # [T, E]
    source = call.memory if sub.kind == "cross" and call.memory is not None else x
    q, k = sub.query(x), sub.key(source)  # [H, T, d], [H_kv, S, d]
    if sub.rotary:
        if call.position_embeddings is None:
            raise UnsupportedModelError(
                f"{sub.name!r} uses rotary embeddings but received no position_embeddings "
                "(cos, sin); its adapter does not fit this version of the model."
            )
        cos, sin = call.position_embeddings
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
    t, s = q.shape[-2], k.shape[-2]
    mask: Tensor | None = None
    minimum = torch.finfo(q.dtype).min
    if keep is not None:
        # BERT's additive padding mask: 0 where a key may be seen, a huge negative where not.
        mask = (1.0 - keep.to(device=q.device, dtype=q.dtype)) * minimum  # [S]
    if sub.kind == "causal" or sub.window is not None:
        seen = causal_mask(t, s, device=q.device)  # [T, S]
        if sub.window is not None:
            offsets = torch.arange(t, device=q.device)[:, None] - torch.arange(s)[None].to(q.device)
            seen &= offsets < sub.window  # query i sees keys i - window + 1 .. i
        if keep is not None:
            seen &= keep.to(q.device).bool()[None, :]
        zero = torch.zeros((), dtype=q.dtype, device=q.device)
        mask = torch.where(seen, zero, torch.full((), minimum, dtype=q.dtype, device=q.device))
    v = torch.zeros(k.shape[0], s, 1, dtype=q.dtype, device=q.device)  # weights only
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=sub.scale)
    return weights


def recompute_layers(
    tokenizer: Any, model: Any, text: str, layer: int | None = None
) -> list[Tensor]:
    """Each self-attention layer's weights ``[H, T, T]`` (or only ``layer``'s), recomputed.

    One forward pass records every layer's input; the model's own weights
    are not used. Layer ids are 0-indexed (negative ids count from the end).

    Raises:
        UnsupportedModelError: no adapter knows the model, or its scores are
            not ``Q Kᵀ`` alone. EncoderDecoderModelError: an encoder-decoder.
        LayerOutOfRangeError, NotTextError, EmptyTextError, TextTooLongError.
    """
    encoded = encode(tokenizer, model, text)  # the text is checked before anything runs
    adapter = adapter_for(model)
    if adapter.encoder_decoder:
        raise EncoderDecoderModelError(
            f"{type(model).__name__} is an encoder-decoder; recompute_attention reads one "
            "text's self-attention (an encoder or a decoder)."
        )
    sublayers = [s for s in adapter.attention_sublayers(model) if s.kind != "cross"]
    calls = capture(model, encoded.inputs, sublayers=sublayers, output_attentions=False).calls
    if layer is not None:
        calls = [calls[check_layer(layer, len(calls))]]
    keep = encoded.inputs["attention_mask"][0]
    results = []
    with torch.inference_mode():
        for call in calls:
            results.append(recompute_call(call, keep))
    # Cloned outside inference mode: ordinary tensors the caller may modify.
    return [w.clone() for w in results]
