"""attnbook.mechanism against PyTorch's own attention, in float64."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from attnbook import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)

TOL = 1e-6


def _rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def test_softmax_matches_torch_and_known_values():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    expected = torch.exp(x) / torch.exp(x).sum()  # by definition
    assert torch.allclose(softmax(x), expected, atol=1e-15)
    assert torch.allclose(softmax(x * 10), torch.softmax(x * 10, -1), atol=1e-15)
    # temperature T divides the scores
    assert torch.allclose(softmax(x, temperature=2.0), torch.softmax(x / 2, -1), atol=1e-15)


def test_softmax_is_stable_for_huge_scores():
    out = softmax(torch.tensor([1e4, 1e4 - 1.0], dtype=torch.float64))
    assert torch.isfinite(out).all()
    assert out[0] == pytest.approx(1 / (1 + math.exp(-1)))


def test_softmax_all_minus_inf_gives_zeros():
    out = softmax(torch.full((2, 3), float("-inf")))
    assert torch.equal(out, torch.zeros(2, 3))


def test_softmax_rejects_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        softmax(torch.zeros(3), temperature=0)


@settings(max_examples=60, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    t=st.integers(1, 7),
    s=st.integers(1, 7),
    d_k=st.integers(1, 9),
    d_v=st.integers(1, 9),
    seed=st.integers(0, 10_000),
    use_scale=st.booleans(),
)
def test_sdpa_matches_torch_without_mask(lead, t, s, d_k, d_v, seed, use_scale):
    q, k, v = (
        _rand(*lead, t, d_k, seed=seed),
        _rand(*lead, s, d_k, seed=seed + 1),
        _rand(*lead, s, d_v, seed=seed + 2),
    )
    scale = 0.37 if use_scale else None
    out, w = scaled_dot_product_attention(q, k, v, scale=scale)
    ref = F.scaled_dot_product_attention(q, k, v, scale=scale)
    assert (out - ref).abs().max() <= TOL
    assert torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-12)
    assert w.shape == (*lead, t, s)


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 3),
    h=st.integers(1, 3),
    t=st.integers(1, 6),
    s=st.integers(1, 6),
    d=st.integers(1, 8),
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["bool", "float"]),
)
def test_sdpa_matches_torch_with_mask(b, h, t, s, d, seed, kind):
    q, k, v = (
        _rand(b, h, t, d, seed=seed),
        _rand(b, h, s, d, seed=seed + 1),
        _rand(b, h, s, d, seed=seed + 2),
    )
    g = torch.Generator().manual_seed(seed + 3)
    keep = torch.rand(b, 1, t, s, generator=g) > 0.4
    keep[..., 0] = True  # no fully masked rows: PyTorch gives NaN there
    if kind == "bool":
        mask = keep
    else:
        mask = torch.zeros(b, 1, t, s, dtype=torch.float64).masked_fill(~keep, float("-inf"))
        mask = mask + _rand(b, 1, t, s, seed=seed + 4).masked_fill(~keep, 0)  # arbitrary biases too
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert (out - ref).abs().max() <= TOL
    assert torch.allclose(w.sum(-1), torch.ones(b, h, t, dtype=torch.float64), atol=1e-12)
    assert (w.masked_select(~keep.expand_as(w)) == 0).all()


def test_causal_mask_matches_torch_is_causal():
    q, k, v = _rand(2, 3, 5, 4), _rand(2, 3, 5, 4, seed=1), _rand(2, 3, 5, 6, seed=2)
    out, w = scaled_dot_product_attention(q, k, v, mask=causal_mask(5))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (out - ref).abs().max() <= TOL
    assert torch.equal(w.triu(1), torch.zeros_like(w))


def test_padding_mask_hides_padded_keys():
    lengths = [2, 4, 1]
    m = padding_mask(lengths, 4)
    assert m.shape == (3, 1, 4)
    assert m.sum(-1).flatten().tolist() == lengths
    q, k, v = _rand(3, 4, 5), _rand(3, 4, 5, seed=1), _rand(3, 4, 2, seed=2)
    out, w = scaled_dot_product_attention(q, k, v, mask=m)
    # Each sequence alone, without padding, gives the same result.
    for b, n in enumerate(lengths):
        o_b, _ = scaled_dot_product_attention(q[b], k[b, :n], v[b, :n])
        assert (out[b] - o_b).abs().max() <= TOL
        assert (w[b, :, n:] == 0).all()


def test_fully_masked_row_rule():
    q, k, v = _rand(3, 4), _rand(5, 4, seed=1), _rand(5, 2, seed=2)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.equal(w[1], torch.zeros(5, dtype=torch.float64))
    assert torch.equal(out[1], torch.zeros(2, dtype=torch.float64))
    assert torch.isfinite(out).all()
    assert torch.allclose(w[[0, 2]].sum(-1), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize(
    "shapes, match",
    [
        (((2, 4), (3, 5), (3, 2)), r"q\(2, 4\).*k\(3, 5\)"),
        (((2, 4), (3, 4), (2, 2)), r"k\(3, 4\).*v\(2, 2\)"),
        (((2, 3, 4), (3, 3, 4), (3, 3, 2)), "do not broadcast"),
        (((4,), (3, 4), (3, 2)), "at least 2 dimensions"),
    ],
)
def test_shape_mismatch_names_the_shapes(shapes, match):
    q, k, v = (torch.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=match):
        scaled_dot_product_attention(q, k, v)


def test_bad_mask_shape_is_reported():
    q = k = v = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 2\)"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(2, 2, dtype=torch.bool))


def test_mask_helpers_validate():
    with pytest.raises(ValueError):
        causal_mask(0)
    with pytest.raises(ValueError, match="0..3"):
        padding_mask([4], 3)


@settings(max_examples=25, deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4]),
    head_dim=st.integers(1, 4),
    b=st.integers(1, 2),
    t=st.integers(1, 6),
    s=st.integers(1, 6),
    bias=st.booleans(),
    masked=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_multihead_matches_torch(heads, head_dim, b, t, s, bias, masked, seed):
    torch.manual_seed(seed)
    e = heads * head_dim
    ref = nn.MultiheadAttention(e, heads, bias=bias, batch_first=True).double().eval()
    ours = MultiHeadAttention.from_torch(ref)
    x, mem = _rand(b, t, e, seed=seed), _rand(b, s, e, seed=seed + 1)
    keep = None
    if masked:
        keep = torch.rand(t, s, generator=torch.Generator().manual_seed(seed)) > 0.5
        keep[:, 0] = True
    out, w = ours(x, mem, mem, mask=keep)
    # torch's boolean attn_mask means the opposite: True = NOT allowed.
    ref_out, ref_w = ref(
        x, mem, mem, attn_mask=None if keep is None else ~keep, average_attn_weights=False
    )
    assert (out - ref_out).abs().max() <= TOL
    assert (w - ref_w).abs().max() <= TOL


def test_multihead_validates():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"\[B, T, 8\]"):
        mha(torch.zeros(1, 3, 7))
