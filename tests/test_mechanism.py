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
    AttentionInputError,
    AttnbookError,
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


def _keep(shape, p_keep, seed, dead_rows):
    """A random boolean mask with some rows entirely False (fully masked queries)."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(*shape, generator=g) < p_keep
    if dead_rows and shape[-2] > 0:
        rows = torch.rand(*shape[:-1], generator=g) < 0.3
        keep &= ~rows[..., None]
    return keep


def _as_additive(keep, seed):
    """The same mask as -inf/0, plus arbitrary finite biases on the kept entries."""
    bias = _rand(*keep.shape, seed=seed).masked_fill(~keep, 0)
    return torch.zeros(keep.shape, dtype=torch.float64).masked_fill(~keep, float("-inf")) + bias


@settings(max_examples=80, deadline=None)
@given(
    b=st.integers(1, 3),
    h=st.integers(1, 3),
    t=st.integers(1, 6),
    s=st.integers(1, 6),
    d=st.integers(1, 8),
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["bool", "float"]),
    mask_shape=st.sampled_from(["TS", "B1TS", "BHTS", "BH1S"]),
    p_keep=st.sampled_from([0.0, 0.3, 0.6, 1.0]),
    dead_rows=st.booleans(),
)
def test_sdpa_matches_torch_with_mask(b, h, t, s, d, seed, kind, mask_shape, p_keep, dead_rows):
    # Masks of every broadcast form, per head or shared, including rows where
    # a query may see no key: PyTorch (>= 2.5) returns zeros there, and so do we.
    q, k, v = (
        _rand(b, h, t, d, seed=seed),
        _rand(b, h, s, d, seed=seed + 1),
        _rand(b, h, s, d, seed=seed + 2),
    )
    shape = {"TS": (t, s), "B1TS": (b, 1, t, s), "BHTS": (b, h, t, s), "BH1S": (b, h, 1, s)}
    keep = _keep(shape[mask_shape], p_keep, seed + 3, dead_rows)
    mask = keep if kind == "bool" else _as_additive(keep, seed + 4)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert (out - ref).abs().max() <= TOL
    keep = keep.expand(b, h, t, s)
    visible = keep.any(-1)
    assert torch.allclose(w.sum(-1), visible.double(), atol=1e-12)  # 1, or 0 if fully masked
    assert (w.masked_select(~keep) == 0).all()
    assert (out[~visible] == 0).all()


def test_fully_masked_row_rule_is_torchs_and_differs_from_plain_softmax():
    # The rule in the module docstring, checked against PyTorch itself.
    q, k, v = _rand(1, 3, 4), _rand(1, 5, 4, seed=1), _rand(1, 5, 2, seed=2)
    keep = torch.ones(3, 5, dtype=torch.bool)
    keep[1] = False
    torch_out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    assert torch.equal(torch_out[0, 1], torch.zeros(2, dtype=torch.float64))
    plain = torch.softmax((q @ k.mT).masked_fill(~keep, float("-inf")), dim=-1)
    assert plain[0, 1].isnan().all() and not plain[0, [0, 2]].isnan().any()
    out, w = scaled_dot_product_attention(q, k, v, mask=keep)
    assert torch.equal(out[0, 1], torch_out[0, 1])
    assert torch.equal(w[0, 1], torch.zeros(5, dtype=torch.float64))


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 2),
    kv_heads=st.integers(1, 3),
    group=st.integers(1, 4),
    t=st.integers(1, 6),
    s=st.integers(1, 6),
    d=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    masked=st.booleans(),
)
def test_grouped_query_attention_matches_torch_enable_gqa(
    b, kv_heads, group, t, s, d, seed, masked
):
    h = kv_heads * group
    q = _rand(b, h, t, d, seed=seed)
    k, v = _rand(b, kv_heads, s, d, seed=seed + 1), _rand(b, kv_heads, s, d + 1, seed=seed + 2)
    mask = _keep((b, h, t, s), 0.6, seed + 3, True) if masked else None
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    assert w.shape == (b, h, t, s)
    assert (out - ref).abs().max() <= TOL


@pytest.mark.parametrize("hq, hkv", [(4, 3), (6, 4), (2, 3)])
def test_grouped_heads_that_do_not_divide_name_both_counts(hq, hkv):
    q, k = torch.zeros(1, hq, 2, 4), torch.zeros(1, hkv, 3, 4)
    with pytest.raises(AttentionInputError, match=rf"{hq} heads.*{hkv}") as err:
        scaled_dot_product_attention(q, k, k)
    assert isinstance(err.value, ValueError) and isinstance(err.value, AttnbookError)


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


@pytest.mark.parametrize(
    "shapes, match",
    [
        (((2, 4), (3, 5), (3, 2)), r"q\(2, 4\).*k\(3, 5\)"),
        (((2, 4), (3, 4), (2, 2)), r"k\(3, 4\).*v\(2, 2\)"),
        (((2, 3, 3, 4), (3, 3, 3, 4), (3, 3, 3, 2)), "do not broadcast"),
        (((2, 3, 4), (2, 3, 4), (3, 3, 2)), r"k has 2, v has 3"),
        (((4,), (3, 4), (3, 2)), "at least 2 dimensions"),
    ],
)
def test_shape_mismatch_names_the_shapes(shapes, match):
    q, k, v = (torch.zeros(s) for s in shapes)
    with pytest.raises(AttentionInputError, match=match):
        scaled_dot_product_attention(q, k, v)


def test_bad_mask_shape_is_reported():
    q = k = v = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 2\)"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(2, 2, dtype=torch.bool))


def test_mask_helpers_validate():
    with pytest.raises(AttentionInputError, match="at least one query"):
        causal_mask(0)
    with pytest.raises(AttentionInputError, match="s must be >= t"):
        causal_mask(3, 2)
    with pytest.raises(AttentionInputError, match="whole numbers"):
        causal_mask(2.5)
    with pytest.raises(AttentionInputError, match="0..3"):
        padding_mask([4], 3)


@pytest.mark.parametrize("t, s", [(1, 1), (3, 3), (1, 5), (2, 7), (4, 6)])
def test_causal_mask_for_a_query_block_is_torchs_lower_right(t, s):
    from torch.nn.attention.bias import causal_lower_right

    assert torch.equal(causal_mask(t, s), causal_lower_right(t, s)._materialize())
    # The last query sees every key; query i sees exactly s - t + i + 1 keys.
    m = causal_mask(t, s)
    assert m.sum(-1).tolist() == [s - t + i + 1 for i in range(t)]


def test_every_mechanism_error_is_an_attnbook_value_error():
    bad_calls = [
        lambda: softmax(torch.zeros(3), temperature=0),
        lambda: causal_mask(0),
        lambda: padding_mask([[1]], 3),
        lambda: scaled_dot_product_attention(torch.zeros(4), torch.zeros(3, 4), torch.zeros(3, 2)),
        lambda: scaled_dot_product_attention(
            torch.zeros(2, 4), torch.zeros(3, 4), torch.zeros(3, 2), mask=torch.zeros(3, 3)
        ),
        lambda: scaled_dot_product_attention(
            torch.zeros(2, 4), torch.zeros(3, 4), torch.zeros(3, 2), mask=torch.ones(2, 3).int()
        ),
        lambda: MultiHeadAttention(10, 3),
        lambda: MultiHeadAttention(8, 4, num_kv_heads=3),
        lambda: MultiHeadAttention(8, 2)(torch.zeros(1, 3, 7)),
        lambda: MultiHeadAttention(8, 2, causal=True)(torch.zeros(1, 3, 8), torch.zeros(1, 2, 8)),
    ]
    for call in bad_calls:
        with pytest.raises(AttentionInputError) as err:
            call()
        assert isinstance(err.value, ValueError) and isinstance(err.value, AttnbookError)


@settings(max_examples=40, deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4]),
    head_dim=st.integers(1, 4),
    b=st.integers(1, 2),
    t=st.integers(1, 6),
    s=st.integers(1, 6),
    bias=st.booleans(),
    path=st.sampled_from(["self", "cross"]),
    mask_kind=st.sampled_from([None, "shared", "per-head"]),
    dead_rows=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_multihead_matches_torch(heads, head_dim, b, t, s, bias, path, mask_kind, dead_rows, seed):
    torch.manual_seed(seed)
    e = heads * head_dim
    ref = nn.MultiheadAttention(e, heads, bias=bias, batch_first=True).double().eval()
    ours = MultiHeadAttention.from_torch(ref)
    x = _rand(b, t, e, seed=seed)
    if path == "self":
        s, mem = t, x
    else:
        mem = _rand(b, s, e, seed=seed + 1)
    keep = None
    if mask_kind == "shared":
        keep = _keep((t, s), 0.5, seed, dead_rows)
    elif mask_kind == "per-head":
        keep = _keep((b, heads, t, s), 0.5, seed, dead_rows)
    # The default path of ours (key and value omitted) against torch's self-attention.
    out, w = ours(x, mask=keep) if path == "self" else ours(x, mem, mem, mask=keep)
    # torch's boolean attn_mask means the opposite (True = NOT allowed) and
    # takes per-head masks as [B * H, T, S].
    torch_mask = None
    if keep is not None:
        torch_mask = ~keep if keep.ndim == 2 else ~keep.reshape(b * heads, t, s)
    with torch.no_grad():
        ref_out, ref_w = ref(x, mem, mem, attn_mask=torch_mask, average_attn_weights=False)
    visible = torch.ones(b, heads, t, dtype=torch.bool)
    if keep is not None:
        visible = keep.expand(b, heads, t, s).any(-1)
    rows = visible.all(1)  # queries with at least one visible key in every head
    assert torch.allclose(out[rows], ref_out[rows], rtol=0, atol=TOL)
    assert torch.allclose(w[visible], ref_w[visible], rtol=0, atol=TOL)
    # torch.nn.MultiheadAttention gives NaN where a query sees no key; ours
    # gives weights 0, so that head contributes nothing to the output projection.
    assert (w[~visible] == 0).all() and torch.isfinite(out).all()
    if (~visible).all(1).any():
        dead = (~visible).all(1)
        expected = ref.out_proj.bias if bias else torch.zeros(e, dtype=torch.float64)
        assert (out[dead] - expected).abs().max() <= TOL


def test_multihead_validates():
    with pytest.raises(AttentionInputError, match="divisible"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(AttentionInputError, match=r"\[B, T, 8\]"):
        mha(torch.zeros(1, 3, 7))
