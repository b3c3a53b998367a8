"""attnbook.tiled_attention against torch.nn.functional.scaled_dot_product_attention, float64."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from attnbook import (
    AttentionInputError,
    causal_mask,
    scaled_dot_product_attention,
    tiled_attention,
)

TOL = 1e-6


def _rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _mask(shape, kind, seed):
    """A boolean or additive mask with random holes and some fully masked rows."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(*shape, generator=g) < 0.6
    keep &= ~(torch.rand(*shape[:-1], 1, generator=g) < 0.2)  # fully masked rows
    if kind == "bool":
        return keep
    bias = _rand(*shape, seed=seed + 1).masked_fill(~keep, 0)
    return torch.zeros(shape, dtype=torch.float64).masked_fill(~keep, float("-inf")) + bias


@settings(max_examples=80, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=3),
    t=st.integers(1, 13),
    extra=st.integers(0, 9),
    d_k=st.integers(1, 6),
    d_v=st.integers(1, 6),
    bq=st.integers(1, 8),
    bk=st.integers(1, 8),
    kind=st.sampled_from([None, "bool", "float"]),
    mask_lead=st.booleans(),
    causal=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_tiled_equals_torch_sdpa(lead, t, extra, d_k, d_v, bq, bk, kind, mask_lead, causal, seed):
    s = t + extra  # T != S in general; causal needs S >= T
    q, k = _rand(*lead, t, d_k, seed=seed), _rand(*lead, s, d_k, seed=seed + 1)
    v = _rand(*lead, s, d_v, seed=seed + 2)
    mask = None
    if kind is not None:
        mask = _mask((*lead, t, s) if mask_lead else (t, s), kind, seed + 3)
    out = tiled_attention(q, k, v, mask, causal=causal, block_size=(bq, bk))
    # torch's is_causal aligns the diagonal top-left; ours (the cache's) bottom-right,
    # so give torch the explicit causal mask.
    ref_mask = mask
    if causal:
        allowed = causal_mask(t, s)
        if mask is None:
            ref_mask = allowed
        elif mask.dtype == torch.bool:
            ref_mask = mask & allowed
        else:
            ref_mask = mask.masked_fill(~allowed, float("-inf"))
    if not lead:  # torch's SDPA wants a leading dim for 2-D inputs with masks
        ref = F.scaled_dot_product_attention(
            q[None], k[None], v[None], attn_mask=None if ref_mask is None else ref_mask[None]
        )[0]
    else:
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=ref_mask)
    assert out.shape == ref.shape
    assert (out - ref).abs().max() <= TOL
    ours_materialised, _ = scaled_dot_product_attention(q, k, v, mask=ref_mask)
    assert (out - ours_materialised).abs().max() <= TOL


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 2),
    kv_heads=st.integers(1, 3),
    group=st.integers(1, 3),
    t=st.integers(1, 10),
    s=st.integers(1, 10),
    block=st.integers(1, 5),
    seed=st.integers(0, 10_000),
)
def test_tiled_grouped_query_attention_equals_enable_gqa(b, kv_heads, group, t, s, block, seed):
    q = _rand(b, kv_heads * group, t, 4, seed=seed)
    k, v = _rand(b, kv_heads, s, 4, seed=seed + 1), _rand(b, kv_heads, s, 3, seed=seed + 2)
    mask = _mask((b, kv_heads * group, t, s), "bool", seed + 3)
    out = tiled_attention(q, k, v, mask, block_size=block)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    assert (out - ref).abs().max() <= TOL


def test_tiled_refuses_heads_that_do_not_divide():
    with pytest.raises(AttentionInputError, match=r"4 heads.*3") as err:
        tiled_attention(torch.zeros(1, 4, 2, 8), torch.zeros(1, 3, 5, 8), torch.zeros(1, 3, 5, 8))
    assert isinstance(err.value, ValueError)


def test_fully_masked_rows_give_zeros_like_sdpa():
    q, k, v = _rand(4, 3), _rand(6, 3, seed=1), _rand(6, 2, seed=2)
    keep = torch.ones(4, 6, dtype=torch.bool)
    keep[2] = False
    out = tiled_attention(q, k, v, keep, block_size=2)
    assert torch.equal(out[2], torch.zeros(2, dtype=torch.float64))
    assert torch.isfinite(out).all()


class _LargestTensor(TorchDispatchMode):
    """Records the number of elements of the largest tensor any operation produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for x in out if isinstance(out, tuple | list) else [out]:
            if isinstance(x, torch.Tensor):
                self.largest = max(self.largest, x.numel())
        return out


@pytest.mark.parametrize("causal", [False, True])
def test_tiled_never_builds_the_weight_matrix(causal):
    t = s = 160
    q, k, v = _rand(2, t, 8), _rand(2, s, 8, seed=1), _rand(2, s, 8, seed=2)
    with _LargestTensor() as seen:
        tiled_attention(q, k, v, causal=causal, block_size=(32, 16))
    # the biggest things: the inputs/output [2, 160, 8], a tile [2, 32, 16]
    assert seen.largest <= 2 * t * 8
    with _LargestTensor() as materialised:
        scaled_dot_product_attention(q, k, v)
    assert materialised.largest == 2 * t * s  # the check can see a T x S matrix


def test_causal_tiles_above_the_diagonal_are_skipped():
    calls = []

    class _CountMatmuls(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func._overloadpacket.__name__ in ("mm", "bmm"):
                calls.append(func)
            return func(*args, **(kwargs or {}))

    q = k = v = _rand(1, 64, 4)
    with _CountMatmuls():
        tiled_attention(q, k, v, block_size=16)
    full = len(calls)
    calls.clear()
    with _CountMatmuls():
        tiled_attention(q, k, v, causal=True, block_size=16)
    # 4 x 4 tiles, of which 4 + 3 + 2 + 1 = 10 are at or below the diagonal
    assert full == 16 * 2  # scores and weights @ values per tile
    assert len(calls) == 10 * 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"block_size": 0}, ">= 1"),
        ({"block_size": "big"}, "positive int"),
        ({"block_size": (4,)}, "pair"),
    ],
)
def test_bad_block_size_is_explained(kwargs, match):
    x = torch.zeros(3, 4)
    with pytest.raises(AttentionInputError, match=match):
        tiled_attention(x, x, x, **kwargs)


def test_causal_needs_as_many_keys_as_queries():
    with pytest.raises(AttentionInputError, match="at least as many keys"):
        tiled_attention(torch.zeros(5, 4), torch.zeros(3, 4), torch.zeros(3, 4), causal=True)
