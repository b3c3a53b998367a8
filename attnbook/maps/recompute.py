"""Recomputing attention from a model's own weights with the Part I formula.

:func:`recompute_attention(s) <recompute_attention>` feed each layer's input
through the model's query and key projections (its
:mod:`adapter <attnbook.adapters>` says where they are, how many key/value
heads there are and whether queries and keys are rotated) and
:func:`attnbook.scaled_dot_product_attention`; the result equals what the
model reports, the proof that the formula is what the model computes.
Encoders (BERT, RoBERTa, DistilBERT, ALBERT, ...) and decoders (GPT-2,
GPT-Neo, GPT-NeoX, Llama, Mistral, Qwen, ...) alike.
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnbook.adapters import recompute_layers
from attnbook.models import load_model


def recompute_attention(model: str | tuple | None, text: str, layer: int) -> Tensor:
    """A layer's attention weights recomputed with :func:`attnbook.scaled_dot_product_attention`.

    The layer's input (captured with a forward hook) goes through the
    model's own query and key projections, is split into heads, and the
    Part I formula ``softmax(Q Kᵀ / sqrt(d_k) + mask)`` gives the weights
    (with the model's rotary embedding, grouped key/value heads and causal
    or sliding-window mask where it has them). They equal ``transformers``'
    ``outputs.attentions[layer]`` (to float rounding): the proof that the
    formula is what the model computes.

    Args:
        model: as for :func:`attend`.
        text: the sentence.
        layer: 0-indexed layer.

    Returns:
        ``[H, T, T]`` weights, rows = queries.

    Raises:
        UnsupportedModelError: no adapter knows the model (see
            :func:`attnbook.adapters.register_adapter`), or its scores are not
            ``Q Kᵀ`` alone. LayerOutOfRangeError, NotTextError, EmptyTextError.

    >>> from attnbook import attend
    >>> mine = recompute_attention(None, "The dog chased the cat.", layer=3)
    >>> theirs = attend("The dog chased the cat.").attentions[3]
    >>> bool((mine - theirs).abs().max() < 1e-5)
    True
    """
    tokenizer, loaded = load_model(model)
    return recompute_layers(tokenizer, loaded, text, layer)[0]


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
    tokenizer, loaded = load_model(model)
    return torch.stack(recompute_layers(tokenizer, loaded, text))
