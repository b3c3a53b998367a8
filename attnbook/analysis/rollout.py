"""Attention rollout (Abnar & Zuidema 2020, "Quantifying attention flow in transformers").

Raw attention in layer ``l`` says how layer ``l`` mixes the *outputs of layer
l-1*, not the input tokens. Rollout follows the mixing down to the input:

1. fuse the heads of each layer: ``A_l = mean_h(attention_l)`` (or max / min);
2. account for the residual connection: ``Â_l = 0.5 * A_l + 0.5 * I``, then
   renormalise each row to sum to 1;
3. multiply through the layers: ``rollout = Â_{L-1} ··· Â_1 · Â_0``
   (layers 0-indexed, the first layer applied first).

``rollout[i, j]`` is then the share of output token ``i`` (after the last
layer) that can be traced back to input token ``j``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from attnbook.errors import AnalysisInputError

if TYPE_CHECKING:
    from attnbook.maps import AttentionMaps

__all__ = ["attention_rollout", "HEAD_FUSIONS"]

#: How the heads of one layer can be fused into a single matrix.
HEAD_FUSIONS = ("mean", "max", "min")


def _attentions(maps: Any) -> Tensor:
    from attnbook.maps import AttentionMaps

    if isinstance(maps, AttentionMaps):  # checked when it was built
        if not maps.is_self_attention:
            raise AnalysisInputError(
                "attention_rollout multiplies self-attention layers (queries and keys are the "
                "same tokens); these maps have separate query and key axes"
            )
        a = maps.attentions
        return (a if a.is_floating_point() else a.to(torch.get_default_dtype())).detach()
    # A raw tensor (or a stand-in) enters here: check it once.
    a = maps.attentions if hasattr(maps, "attentions") else maps
    if not isinstance(a, Tensor):
        try:
            a = torch.as_tensor(a)
        except (TypeError, ValueError, RuntimeError):
            raise AnalysisInputError(
                "attention_rollout expects an AttentionMaps or a tensor [layers, heads, T, T], "
                f"got {type(maps).__name__}"
            ) from None
    if a.ndim != 4 or a.shape[-1] != a.shape[-2] or 0 in a.shape:
        raise AnalysisInputError(
            f"attention_rollout needs attentions of shape [layers, heads, T, T], got "
            f"{tuple(a.shape)}; for one layer of one head use a[None, None]"
        )
    if not a.is_floating_point():
        a = a.to(torch.get_default_dtype())
    return a.detach()


def attention_rollout(
    maps: AttentionMaps | Tensor,
    *,
    head_fusion: str = "mean",
    residual: float = 0.5,
    per_layer: bool = False,
) -> Tensor:
    """Roll attention out through the layers (Abnar & Zuidema 2020).

    Args:
        maps: an :class:`~attnbook.maps.AttentionMaps` or its ``attentions``
            tensor ``[L, H, T, T]`` (rows = queries, columns = keys).
        head_fusion: ``"mean"`` (Abnar & Zuidema), ``"max"`` or ``"min"`` over
            the heads of a layer.
        residual: the weight of the identity that stands for the residual
            connection, ``Â = (1 - residual) * A + residual * I``; the paper
            uses 0.5.
        per_layer: if ``True``, also return the partial products.

    Returns:
        ``[T, T]`` rollout through all ``L`` layers, or with
        ``per_layer=True`` a ``[L, T, T]`` tensor whose entry ``l`` is the
        rollout through layers ``0..l`` (0-indexed; the last entry equals the
        full rollout). Rows sum to 1.

    >>> import torch
    >>> a = torch.tensor([[0.0, 1.0], [0.0, 1.0]])[None, None]  # L=1, H=1
    >>> attention_rollout(a)
    tensor([[0.5000, 0.5000],
            [0.0000, 1.0000]])
    >>> attention_rollout(a.expand(2, 1, 2, 2))  # two layers
    tensor([[0.2500, 0.7500],
            [0.0000, 1.0000]])
    """
    if head_fusion not in HEAD_FUSIONS:
        raise AnalysisInputError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
    if not 0 <= residual <= 1:
        raise AnalysisInputError(f"residual must be between 0 and 1, got {residual!r}")
    a = _attentions(maps)
    if head_fusion == "mean":
        fused = a.mean(1)
    elif head_fusion == "max":
        fused = a.amax(1)
    else:
        fused = a.amin(1)  # [L, T, T]
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    mixed = (1 - residual) * fused + residual * eye
    total = mixed.sum(-1, keepdim=True)
    if (total <= 0).any():
        raise AnalysisInputError(
            "a fused attention row is all zeros and residual is 0, so it cannot be "
            "renormalised; use residual > 0"
        )
    mixed = mixed / total
    out = [mixed[0]]
    for layer in mixed[1:]:
        out.append(layer @ out[-1])
    return torch.stack(out) if per_layer else out[-1]
