"""Norm-based attention analysis (Kobayashi et al. 2020, "Attention is not only a weight").

A head does not just weigh tokens, it moves *vectors*: the attention
sub-layer's output for query ``i`` is

    y_i = sum_h sum_j  α^h_ij f_h(x_j)  +  b_O,   f_h(x) = (x W_V,h + b_V,h) W_O,h

where ``x_j`` is the layer's input at token ``j``, ``W_V,h`` / ``b_V,h`` are
head ``h``'s slice of the value projection and ``W_O,h`` its slice (rows) of
the output projection. A large weight ``α^h_ij`` on a token whose transformed
vector ``f_h(x_j)`` is tiny moves almost nothing, so Kobayashi et al. measure
the contribution of ``j`` to ``i`` by the norm ``‖α^h_ij f_h(x_j)‖`` (per head)
and ``‖sum_h α^h_ij f_h(x_j)‖`` (per layer) instead of by ``α`` alone.

Works with BERT-style encoders (BERT, RoBERTa, ELECTRA, MiniLM, ...), whose
layers the ``"bert"`` :mod:`adapter <attnbook.adapters>` finds at
``encoder.layer[i].attention.self.{query,key,value}`` and
``encoder.layer[i].attention.output.dense``. Layer and head ids are 0-indexed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from attnbook.errors import AnalysisInputError, NoAttentionError, UnsupportedModelError

if TYPE_CHECKING:
    from attnbook.adapters import Call, Sublayer
    from attnbook.maps import AttentionMaps

__all__ = [
    "AttentionNorms",
    "attention_norms",
    "attention_norms_from_inputs",
    "bert_attention_modules",
    "transformed_vectors",
]


@dataclass(frozen=True, eq=False)
class AttentionNorms:
    """Raw attention weights and Kobayashi et al.'s norms for one text.

    Shapes use ``L`` layers, ``H`` heads, ``T`` tokens; rows are queries
    (``i``, who looks) and columns keys (``j``, who is looked at). Layer and
    head ids are 0-indexed. The tokens live in one place, ``weights`` (an
    :class:`~attnbook.maps.AttentionMaps`); ``attentions``, ``tokens``,
    ``special``, ``model_id`` and the sizes are read from it.

    Attributes:
        weights: the :class:`~attnbook.maps.AttentionMaps` of the norm pass:
            its ``attentions`` ``[L, H, T, T]`` are the weights α of the same
            forward pass as the norms.
        head_norms: ``[L, H, T, T]`` ``‖α^h_ij f_h(x_j)‖``.
        layer_norms: ``[L, T, T]`` ``‖sum_h α^h_ij f_h(x_j)‖``.
        value_norms: ``[L, H, T]`` ``‖f_h(x_j)‖``, the size of what token ``j``
            offers head ``h`` whatever the weight.
        maps: the :class:`~attnbook.maps.AttentionMaps` of the text (same
            tokens, same weights), when the norms were computed from text;
            ``None`` from raw model inputs.
    """

    weights: AttentionMaps
    head_norms: Tensor
    layer_norms: Tensor
    value_norms: Tensor
    maps: AttentionMaps | None = None

    @property
    def attentions(self) -> Tensor:
        """``[L, H, T, T]`` the weights α of the norm pass."""
        return self.weights.attentions

    @property
    def tokens(self) -> list[str]:
        return self.weights.tokens

    @property
    def special(self) -> Tensor:
        return self.weights.special

    @property
    def model_id(self) -> str:
        return self.weights.model_id

    @property
    def num_layers(self) -> int:
        return self.weights.num_layers

    @property
    def num_heads(self) -> int:
        return self.weights.num_heads

    @property
    def num_tokens(self) -> int:
        return self.weights.num_tokens

    def normalized(self, per: str = "layer") -> Tensor:
        """The norms with each query's row rescaled to sum to 1.

        Puts norms on the same scale as attention weights, for side-by-side
        heatmaps and for :func:`~attnbook.analysis.head_statistics`.

        Args:
            per: ``"layer"`` for ``[L, T, T]`` from :attr:`layer_norms`,
                ``"head"`` for ``[L, H, T, T]`` from :attr:`head_norms`. (Not
                :attr:`AttentionMaps.level <attnbook.maps.AttentionMaps.level>`,
                which says whether the maps are over tokens or words.)
        """
        if per not in ("layer", "head"):
            raise AnalysisInputError(
                f"per must be 'layer' or 'head' (norms summed over a layer's heads, or each "
                f"head's), got {per!r}; the token/word level is AttentionMaps.to_words()"
            )
        norms = self.layer_norms if per == "layer" else self.head_norms
        return norms / norms.sum(-1, keepdim=True).clamp_min(torch.finfo(norms.dtype).tiny)

    def as_maps(self, per: str = "head") -> AttentionMaps:
        """An :class:`~attnbook.maps.AttentionMaps` whose weights are the row-normalised norms.

        With ``per="head"`` its ``attentions`` are ``[L, H, T, T]``; with
        ``per="layer"`` they are ``[L, 1, T, T]`` (one "head" per layer).
        Everything else (tokens, words, ...) is the text's own, so
        :func:`~attnbook.analysis.head_statistics`, ``to_words()`` and the
        plots work on norms as they do on weights.
        """
        if self.maps is None:
            raise AnalysisInputError(
                "these norms were computed from raw model inputs, without AttentionMaps; "
                "use attention_norms(text, model) to get norms that convert to maps"
            )
        values = self.normalized(per)
        if per == "layer":
            values = values[:, None]
        return self.maps.replace(attentions=values.to(self.maps.attentions.dtype))


def _bert_sublayers(model: nn.Module) -> list[Sublayer]:
    """The self-attention sublayers of a BERT-style encoder, from its adapter."""
    from attnbook.adapters import families, find_adapter

    base = getattr(model, "base_model", model)
    adapter = find_adapter(base) if isinstance(base, nn.Module) else None
    sublayers = adapter.sublayers(base) if adapter is families.BERT else []
    sublayers = [s for s in sublayers if s.kind == "self"]
    if not sublayers:
        raise UnsupportedModelError(
            f"norm-based analysis needs a BERT-style encoder (modules "
            f"encoder.layer[i].attention.self.value and .attention.output.dense); "
            f"{type(model).__name__} is not one. Use a BERT, RoBERTa, ELECTRA or MiniLM "
            "checkpoint."
        )
    return sublayers


def _projections(sublayer: Sublayer) -> dict[str, nn.Linear]:
    m = sublayer.module
    found = {
        "query": getattr(m, "query", None),
        "key": getattr(m, "key", None),
        "value": getattr(m, "value", None),
        "dense": sublayer.output,
    }
    linears = {name: p for name, p in found.items() if isinstance(p, nn.Linear)}
    if len(linears) != len(found):
        raise UnsupportedModelError(
            f"{sublayer.name!r} has no nn.Linear query/key/value/output projections; "
            "norm-based analysis supports BERT-style encoders (BERT, RoBERTa, ELECTRA, MiniLM)."
        )
    return linears


def bert_attention_modules(model: nn.Module) -> list[dict[str, nn.Linear]]:
    """The projections of each self-attention layer of a BERT-style encoder.

    Found by the model's :mod:`adapter <attnbook.adapters>` (the ``"bert"``
    family: BERT, RoBERTa, ELECTRA, MiniLM, ...).

    Returns:
        One dict per layer (0-indexed) with the ``nn.Linear`` modules
        ``"query"``, ``"key"``, ``"value"`` and ``"dense"`` (the attention
        output projection, before dropout, residual and LayerNorm).

    Raises:
        UnsupportedModelError: the model is not a BERT-style encoder.
    """
    return [_projections(s) for s in _bert_sublayers(model)]


def transformed_vectors(modules: dict[str, nn.Linear], x: Tensor, num_heads: int) -> Tensor:
    """``f_h(x_j) = (x_j W_V,h + b_V,h) W_O,h`` for every head and token, in float64.

    Args:
        modules: one layer's entry of :func:`bert_attention_modules`.
        x: ``[T, E]`` the layer's input (its hidden states before attention).
        num_heads: ``H``.

    Returns:
        ``[H, T, E]``: what token ``j`` sends through head ``h`` when it gets
        all of the head's attention. ``sum_h α_h @ f[h]`` plus the output
        bias is the attention sub-layer's output.
    """
    value, dense = modules["value"], modules["dense"]
    x = x.detach().to(torch.float64)
    t = x.shape[0]
    w_v = value.weight.detach().to(torch.float64)  # [H*d, E]  (nn.Linear computes x W^T + b)
    b_v = (
        value.bias.detach().to(torch.float64)
        if value.bias is not None
        else torch.zeros(w_v.shape[0], dtype=torch.float64, device=w_v.device)
    )
    v = (x @ w_v.T + b_v).view(t, num_heads, -1).transpose(0, 1)  # [H, T, d]
    w_o = dense.weight.detach().to(torch.float64)  # [E, H*d]
    w_o = w_o.view(w_o.shape[0], num_heads, -1).permute(1, 2, 0)  # [H, d, E]: W_O,h
    return v @ w_o  # [H, T, E]


def _layer_norms(alpha: Tensor, f: Tensor) -> Tensor:
    """``‖sum_h α[h, i, j] f[h, j]‖`` for all i, j without building [T, T, E] vectors.

    ``alpha`` is ``[H, T, T]``, ``f`` is ``[H, T, E]``; returns ``[T, T]``.
    """
    # ‖sum_h α_h f_h‖² = sum_{h,g} α_h α_g <f_h, f_g>, so one H x H Gram matrix per key suffices.
    by_key = f.transpose(0, 1).contiguous()  # [T(j), H, E]
    gram = torch.bmm(by_key, by_key.transpose(1, 2))  # [T(j), H, H]
    weights = alpha.permute(2, 1, 0).contiguous()  # [T(j), T(i), H]
    squared = (torch.bmm(weights, gram) * weights).sum(-1)  # [T(j), T(i)]
    return squared.clamp_min(0).sqrt().T


def attention_norms_from_inputs(
    model: nn.Module,
    inputs: Mapping[str, Tensor],
    *,
    tokens: list[str] | None = None,
    special: Tensor | None = None,
    model_id: str | None = None,
) -> AttentionNorms:
    """Run a BERT-style ``model`` on tokenised ``inputs`` and compute the norms.

    One forward pass (:func:`attnbook.adapters.capture`: eval mode, no
    gradients, the inputs moved to the model's device) gives the weights ``α``
    and, through hooks, each self-attention layer's input ``x``.

    Args:
        model: a transformers BERT-style model loaded with
            ``attn_implementation="eager"`` (fused attention returns no weights).
        inputs: the tokenizer's output for **one** text (``input_ids`` of
            shape ``[1, T]``, plus ``attention_mask`` etc.).
        tokens, special, model_id: labels to store; default to ``"0".."T-1"``,
            no special tokens, and ``model.name_or_path``.

    Returns:
        :class:`AttentionNorms` (with ``maps=None``).
    """
    from attnbook.adapters import capture

    sublayers = _bert_sublayers(model)
    input_ids = inputs.get("input_ids") if isinstance(inputs, Mapping) else None
    if input_ids is None or input_ids.ndim != 2 or input_ids.shape[0] != 1:
        raise AnalysisInputError(
            "inputs must be a tokenizer output for one text, with input_ids of shape [1, T]; "
            "call the tokenizer with return_tensors='pt' on a single string"
        )
    t = input_ids.shape[1]
    captured = capture(model, inputs, sublayers=sublayers)
    try:
        weights = captured.weights()  # [L, H, T, T]
    except NoAttentionError:
        raise NoAttentionError(
            f"{type(model).__name__} returned no attention weights (fused attention); load "
            "it with attn_implementation='eager', e.g. via attnbook.load_model"
        ) from None
    if tokens is None:
        tokens = [str(k) for k in range(t)]
    if special is None:
        special = torch.zeros(t, dtype=torch.bool)
    return _norms(
        captured.calls,
        weights,
        tokens=list(tokens),
        special=torch.as_tensor(special, dtype=torch.bool),
        model_id=model_id or str(getattr(model, "name_or_path", type(model).__name__)),
    )


def _norms(
    calls: list[Call], weights: Tensor, *, tokens: list[str], special: Tensor, model_id: str
) -> AttentionNorms:
    """The norms of each layer's call: ``calls[l].hidden [T, E]``, ``weights [L, H, T, T]``."""
    attentions, head_norms, layer_norms, value_norms = [], [], [], []
    for call, layer_weights in zip(calls, weights, strict=True):
        alpha = layer_weights.to(torch.float64)  # [H, T, T]
        f = transformed_vectors(_projections(call.sublayer), call.hidden, call.sublayer.num_heads)
        f_norm = f.norm(dim=-1)  # [H, T]
        attentions.append(alpha)
        # α >= 0, so ‖α f‖ = α ‖f‖: no need to materialise the [H, T, T, E] vectors.
        head_norms.append(alpha * f_norm[:, None, :])
        layer_norms.append(_layer_norms(alpha, f))
        value_norms.append(f_norm)

    def stack(values: list[Tensor]) -> Tensor:
        return torch.stack(values).to("cpu", torch.float32)

    return AttentionNorms(
        weights=_token_maps(stack(attentions), tokens, special, model_id),
        head_norms=stack(head_norms),
        layer_norms=stack(layer_norms),
        value_norms=stack(value_norms),
    )


def _token_maps(
    attentions: Tensor, tokens: list[str], special: Tensor, model_id: str
) -> AttentionMaps:
    """Maps over raw inputs' tokens: each ordinary token is its own word."""
    from attnbook.maps import AttentionMaps

    flags = special.tolist()
    words = [t for t, s in zip(tokens, flags, strict=True) if not s]
    word_ids: list[int | None] = []
    for is_special in flags:
        word_ids.append(None if is_special else sum(w is not None for w in word_ids))
    return AttentionMaps(
        attentions=attentions,
        tokens=tokens,
        word_ids=word_ids,
        words=words,
        special=special,
        model_id=model_id,
    )


def attention_norms(
    text: str,
    model: Any = None,
    *,
    pair: str | None = None,
    max_length: int | None = None,
    truncation: bool = False,
) -> AttentionNorms:
    """Kobayashi et al.'s norm-based attention for ``text`` (see the module docs).

    Args:
        text: the input text.
        model: ``None`` (the default model), a name or path, or a
            ``(tokenizer, model)`` tuple, as for :func:`attnbook.attend`.
        pair, max_length, truncation: as for :func:`attnbook.attend`.

    Returns:
        :class:`AttentionNorms` whose ``maps`` are the text's
        :class:`~attnbook.maps.AttentionMaps` (what ``attnbook.attend(text, ...)``
        returns), from the same forward pass.

    >>> norms = attention_norms("The cat sat.")
    >>> tuple(norms.head_norms.shape), tuple(norms.layer_norms.shape)
    ((6, 12, 6, 6), (6, 6, 6))
    >>> norms.tokens
    ['[CLS]', 'the', 'cat', 'sat', '.', '[SEP]']
    """
    from attnbook.adapters import capture, encode
    from attnbook.maps.encode import check_text
    from attnbook.maps.run import maps_from
    from attnbook.models import load_model

    check_text(text, "text")
    tokenizer, loaded = load_model(model)
    sublayers = _bert_sublayers(loaded)
    encoded = encode(
        tokenizer, loaded, text, pair, max_length=max_length, truncation=truncation, warn=True
    )
    captured = capture(loaded, encoded.inputs, sublayers=sublayers)
    weights = captured.weights()
    maps = maps_from(encoded, weights, tokenizer, loaded, text=text, pair=pair, causal=False)
    norms = _norms(
        captured.calls, weights, tokens=maps.tokens, special=maps.special, model_id=maps.model_id
    )
    # The norm pass's weights over the text's own axes (words, roles, segments).
    return dataclasses.replace(norms, weights=maps.replace(attentions=norms.attentions), maps=maps)
