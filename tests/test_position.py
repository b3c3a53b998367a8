"""attnbook.position against hand formulas and transformers' Llama rotary embedding."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnbook import AttentionInputError
from attnbook.position import rotary, rotary_frequencies, sinusoidal

TOL = 1e-6


def _rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def test_sinusoidal_matches_the_papers_formula_entry_by_entry():
    n, d = 7, 10
    pe = sinusoidal(n, d, dtype=torch.float64)
    for pos in range(n):
        for i in range(d):
            angle = pos / 10000 ** (2 * (i // 2) / d)  # Vaswani et al., section 3.5
            expected = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert pe[pos, i].item() == pytest.approx(expected, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(half=st.integers(1, 16), offset=st.integers(0, 20), p=st.integers(0, 40))
def test_sinusoidal_dot_product_depends_only_on_the_offset(half, offset, p):
    pe = sinusoidal(64, 2 * half, dtype=torch.float64)
    # sum_i cos(w_i * offset), whatever the starting position
    expected = pe[0] @ pe[offset]
    assert (pe[p] @ pe[p + offset] - expected).abs() <= 1e-9
    assert (pe[p + offset] @ pe[p] - expected).abs() <= 1e-9  # symmetric in the offset sign
    assert expected.item() == pytest.approx(
        sum(math.cos(offset / 10000 ** (2 * i / (2 * half))) for i in range(half)), abs=1e-9
    )


def test_sinusoidal_is_in_the_default_dtype_unless_asked():
    assert sinusoidal(3, 4).dtype == torch.get_default_dtype()
    assert sinusoidal(3, 4, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sinusoidal(4, 5), "must be even"),
        (lambda: sinusoidal(0, 4), ">= 1"),
        (lambda: sinusoidal(2.5, 4), "whole number"),
        (lambda: rotary(torch.zeros(3, 5), torch.arange(3)), "must be even"),
        (lambda: rotary(torch.zeros(3, 4), torch.arange(4)), r"one position per token"),
        (lambda: rotary(torch.zeros(4), torch.arange(4)), r"\[\.\.\., T, d\]"),
        (lambda: rotary(torch.zeros(3, 4, dtype=torch.int64), torch.arange(3)), "floating"),
        (lambda: rotary_frequencies(4, base=1.0), "base must be > 1"),
    ],
)
def test_position_errors_say_what_to_do(call, match):
    with pytest.raises(AttentionInputError, match=match) as err:
        call()
    assert isinstance(err.value, ValueError)


def _llama_cos_sin(positions, d, base):
    """cos/sin as LlamaRotaryEmbedding builds them (freqs repeated: cat(freqs, freqs)), in float64."""
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = positions[..., None].double() * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 2),
    h=st.integers(1, 3),
    t=st.integers(1, 9),
    half=st.integers(1, 8),
    start=st.integers(0, 300),
    base=st.sampled_from([10000.0, 500000.0, 100.0]),
    seed=st.integers(0, 10_000),
)
def test_rotary_equals_llamas_apply_rotary_pos_emb(b, h, t, half, start, base, seed):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    d = 2 * half
    q, k = _rand(b, h, t, d, seed=seed), _rand(b, h, t, d, seed=seed + 1)
    positions = torch.arange(start, start + t)
    cos, sin = _llama_cos_sin(positions[None].expand(b, t), d, base)  # [B, T, d]
    ref_q, ref_k = apply_rotary_pos_emb(q, k, cos, sin)
    assert (rotary(q, positions, base=base) - ref_q).abs().max() <= TOL
    assert (rotary(k, positions, base=base) - ref_k).abs().max() <= TOL


def test_rotary_frequencies_are_llamas():
    # transformers' own rotary module (float32, as it computes) for a Llama config.
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    config = LlamaConfig(hidden_size=64, num_attention_heads=4, rope_theta=10000.0)
    rope = LlamaRotaryEmbedding(config)
    x = torch.zeros(1, 12, 16)
    positions = torch.arange(12)[None]
    cos, sin = rope(x, positions)
    ours = positions[0, :, None].double() * rotary_frequencies(16, base=10000.0)
    ours = torch.cat((ours, ours), dim=-1)
    assert (cos[0].double() - ours.cos()).abs().max() <= 1e-6
    assert (sin[0].double() - ours.sin()).abs().max() <= 1e-6
    # and the float32 rotation end to end
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    q = _rand(1, 2, 12, 16).float()
    ref, _ = apply_rotary_pos_emb(q, q, cos, sin)
    assert (rotary(q, torch.arange(12)) - ref).abs().max() <= 1e-5


def _interleaved_rope(x, positions, base):
    """The paper's form (Su et al. 2021, eq. 34): rotate pairs (x[2i], x[2i+1]) by pos·θ_i."""
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = positions[:, None].double() * theta  # [T, d/2]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * angle.cos() - odd * angle.sin()
    out[..., 1::2] = even * angle.sin() + odd * angle.cos()
    return out


@pytest.mark.parametrize("d", [2, 6, 16])
def test_rotary_is_the_interleaved_rotation_up_to_a_permutation(d):
    x = _rand(3, 7, d)
    positions = torch.arange(5, 12)
    perm = torch.cat((torch.arange(0, d, 2), torch.arange(1, d, 2)))  # 2i -> i, 2i+1 -> i + d/2
    paper = _interleaved_rope(x, positions, 10000.0)
    assert (rotary(x[..., perm], positions) - paper[..., perm]).abs().max() <= 1e-12
    if d > 2:  # the layouts really differ: applied to the same x, they disagree
        assert (rotary(x, positions) - paper).abs().max() > 1e-3
    # scores are unchanged by the permutation
    k = _rand(3, 7, d, seed=1)
    paper_scores = paper @ _interleaved_rope(k, positions, 10000.0).mT
    ours_scores = rotary(x[..., perm], positions) @ rotary(k[..., perm], positions).mT
    assert (paper_scores - ours_scores).abs().max() <= 1e-10


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(0, 200),
    n=st.integers(0, 200),
    shift=st.integers(-50, 500),
    seed=st.integers(0, 999),
)
def test_rotary_scores_depend_only_on_the_offset(m, n, shift, seed):
    q, k = _rand(1, 8, seed=seed), _rand(1, 8, seed=seed + 1)
    if m + shift < 0 or n + shift < 0:
        shift = 0
    score = rotary(q, torch.tensor([m])) @ rotary(k, torch.tensor([n])).mT
    shifted = rotary(q, torch.tensor([m + shift])) @ rotary(k, torch.tensor([n + shift])).mT
    assert (score - shifted).abs().max() <= 1e-9
    # a rotation keeps the length of the vector
    assert torch.allclose(rotary(q, torch.tensor([m])).norm(), q.norm(), atol=1e-12)
