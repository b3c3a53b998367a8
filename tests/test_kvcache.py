"""KV cache and grouped key/value heads of attnbook.MultiHeadAttention.

References: one causal pass over the whole sequence (what a cache must
reproduce), torch.nn.MultiheadAttention for the causal option, and
transformers' LlamaAttention (eager, rotation switched off) for grouped heads.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attnbook import (
    AttentionInputError,
    AttnbookError,
    KVCache,
    KVCacheMismatchError,
    MultiHeadAttention,
    causal_mask,
)

TOL = 1e-6


def _rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _mha(e, h, kv=None, seed=0, causal=True, bias=True):
    torch.manual_seed(seed)
    return MultiHeadAttention(e, h, num_kv_heads=kv, causal=causal, bias=bias).double()


def test_causal_option_matches_torch_with_a_causal_mask():
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(12, 3, batch_first=True).double().eval()
    ours = MultiHeadAttention.from_torch(ref)
    ours.causal = True
    x = _rand(2, 6, 12)
    out, w = ours(x)
    with torch.no_grad():
        ref_out, ref_w = ref(x, x, x, attn_mask=~causal_mask(6), average_attn_weights=False)
    assert (out - ref_out).abs().max() <= TOL
    assert (w - ref_w).abs().max() <= TOL
    assert torch.equal(w.triu(1), torch.zeros_like(w))


def test_causal_option_is_combined_with_a_given_mask():
    mha = _mha(8, 2)
    x = _rand(2, 5, 8)
    pad = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])[:, None, None, :]  # [B, 1, 1, S]
    _, w = mha(x, mask=pad)
    assert torch.equal(w.triu(1), torch.zeros_like(w))
    assert (w[1, :, :, 3:] == 0).all()
    additive = torch.zeros(2, 1, 1, 5, dtype=torch.float64).masked_fill(~pad, float("-inf"))
    _, w_add = mha(x, mask=additive)
    assert (w - w_add).abs().max() <= 1e-12


@settings(max_examples=40, deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4]),
    kv_div=st.sampled_from([1, 2, 4]),
    head_dim=st.integers(1, 4),
    b=st.integers(1, 2),
    t=st.integers(1, 9),
    chunks=st.lists(st.integers(1, 4), min_size=1, max_size=9),
    bias=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_cached_steps_equal_one_causal_pass(heads, kv_div, head_dim, b, t, chunks, bias, seed):
    kv = max(1, heads // kv_div)
    e = heads * head_dim
    mha = _mha(e, heads, kv, seed=seed, bias=bias)
    x = _rand(b, t, e, seed=seed)
    full, full_w = mha(x)
    cache = KVCache()
    outs, start = [], 0
    sizes = [*chunks, t]  # blocks of tokens, the last one takes the rest
    for size in sizes:
        if start >= t:
            break
        block = x[:, start : start + size]
        out, w = mha(block, cache=cache)
        stop = start + block.shape[1]
        assert w.shape == (b, heads, block.shape[1], stop)
        assert (w - full_w[:, :, start:stop, :stop]).abs().max() <= TOL
        outs.append(out)
        start = stop
    assert (torch.cat(outs, dim=1) - full).abs().max() <= TOL
    assert len(cache) == t
    # only the key/value heads are stored
    assert cache.keys.shape == (b, kv, t, head_dim) and cache.values.shape == (b, kv, t, head_dim)
    assert cache.nbytes() == 2 * b * kv * t * head_dim * 8


def test_one_token_at_a_time_equals_one_pass_in_a_stack():
    # A small decoder stack (pre-LN residual blocks): every layer has its own cache.
    layers = [_mha(16, 4, 2, seed=s) for s in range(3)]
    norms = [nn.LayerNorm(16).double() for _ in layers]

    def run(x, caches=None):
        for i, (mha, ln) in enumerate(zip(layers, norms, strict=True)):
            x = x + mha(ln(x), cache=None if caches is None else caches[i])[0]
        return x

    x = _rand(2, 11, 16)
    with torch.no_grad():
        full = run(x)
        caches = [KVCache() for _ in layers]
        steps = torch.cat([run(x[:, i : i + 1], caches) for i in range(11)], dim=1)
    assert (steps - full).abs().max() <= TOL


def test_grouped_heads_match_transformers_llama_attention():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaAttention

    config = LlamaConfig(
        hidden_size=24,
        num_attention_heads=6,
        num_key_value_heads=2,
        attention_bias=True,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    llama = LlamaAttention(config, layer_idx=0).double().eval()
    ours = MultiHeadAttention(24, 6, num_kv_heads=2, causal=True).double()
    with torch.no_grad():
        for mine, theirs in [
            (ours.q_proj, llama.q_proj),
            (ours.k_proj, llama.k_proj),
            (ours.v_proj, llama.v_proj),
            (ours.out_proj, llama.o_proj),
        ]:
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    x = _rand(2, 7, 24)
    identity = (torch.ones(2, 7, 4, dtype=torch.float64), torch.zeros(2, 7, 4, dtype=torch.float64))
    additive = torch.zeros(7, 7, dtype=torch.float64).masked_fill(~causal_mask(7), float("-inf"))
    with torch.no_grad():
        ref_out, ref_w = llama(x, position_embeddings=identity, attention_mask=additive[None, None])
        out, w = ours(x)
    assert (out - ref_out).abs().max() <= TOL
    assert (w - ref_w).abs().max() <= TOL
    assert ours.k_proj.weight.shape == (8, 24)  # 2 key/value heads of width 4


def test_multi_query_attention_has_one_key_value_head():
    mha = _mha(12, 4, 1)
    cache = KVCache()
    mha(_rand(1, 5, 12), cache=cache)
    assert cache.keys.shape == (1, 1, 5, 3)
    full_heads = _mha(12, 4)
    full_cache = KVCache()
    full_heads(_rand(1, 5, 12), cache=full_cache)
    assert full_cache.nbytes() == 4 * cache.nbytes()


def test_cache_reused_with_another_batch_size_or_width_is_refused():
    mha = _mha(8, 2)
    cache = KVCache()
    mha(_rand(2, 3, 8), cache=cache)
    with pytest.raises(KVCacheMismatchError, match=r"batch size 2.*batch size 3.*new KVCache"):
        mha(_rand(3, 1, 8), cache=cache)
    wider = _mha(12, 2)  # head width 6 instead of 4
    with pytest.raises(KVCacheMismatchError, match=r"key width 4.*widths 6") as err:
        wider(_rand(2, 1, 12), cache=cache)
    assert isinstance(err.value, ValueError) and isinstance(err.value, AttnbookError)
    fewer_heads = _mha(8, 2, 1)
    with pytest.raises(KVCacheMismatchError, match="2 key/value heads"):
        fewer_heads(_rand(2, 1, 8), cache=cache)
    with pytest.raises(KVCacheMismatchError, match="float32"):
        cache.append(torch.zeros(2, 2, 1, 4), torch.zeros(2, 2, 1, 4))
    assert len(cache) == 3  # nothing was appended by the refused calls
    cache.reset()
    assert len(cache) == 0 and cache.keys is None
    mha(_rand(3, 1, 8), cache=cache)  # a reset cache takes a new batch
    assert len(cache) == 1


def test_cache_append_checks_its_inputs():
    cache = KVCache()
    with pytest.raises(AttentionInputError, match=r"\[B, H_kv, S, d\]"):
        cache.append(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
    with pytest.raises(AttentionInputError, match="agree"):
        cache.append(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 2, 4))


def test_multihead_rejects_kv_heads_that_do_not_divide():
    with pytest.raises(AttentionInputError, match=r"num_heads \(6\).*num_kv_heads \(4\)"):
        MultiHeadAttention(12, 6, num_kv_heads=4)
