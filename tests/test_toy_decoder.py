"""The toy decoder (same blocks as the toy encoder, causal) and the induction-head experiment."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from attnbook.toy import ToyCacheWarning, ToyDecoder, ToyEncoder, ToyGrammarError
from attnbook.toy.induction import (
    BOS_ID,
    InductionConfig,
    half_losses,
    load_or_train_induction,
    prefix_matching_scores,
    previous_token_scores,
    repeated_sequences,
    train_induction,
)

TINY = InductionConfig(
    num_tokens=12, half=6, d_model=16, num_heads=2, steps=20, batch_size=8, snapshot_every=10
)


def _decoder(**kw) -> ToyDecoder:
    args = dict(vocab_size=20, max_len=8, d_model=16, num_layers=2, num_heads=2, d_ff=32, seed=0)
    return ToyDecoder(**{**args, **kw}).eval()


def test_decoder_never_looks_ahead():
    model = _decoder()
    ids = torch.tensor([[3, 4, 5, 6, 7, 8]])
    changed = ids.clone()
    changed[0, 4:] = torch.tensor([11, 12])
    with torch.no_grad():
        a, b = model(ids), model(changed)
    # Logits before the change are the same: position i saw only tokens 0..i.
    assert torch.equal(a.logits[0, :4], b.logits[0, :4])
    assert not torch.allclose(a.logits[0, 4:], b.logits[0, 4:])
    assert bool((torch.triu(a.attentions, diagonal=1) == 0).all())
    assert torch.allclose(a.attentions.sum(-1), torch.ones(()), atol=1e-6)


def test_encoder_looks_both_ways_on_the_same_blocks():
    args = dict(vocab_size=20, max_len=8, d_model=16, num_layers=2, num_heads=2, d_ff=32, seed=0)
    enc, dec = ToyEncoder(**args).eval(), ToyDecoder(**args).eval()
    # One family: the same seed gives the same weights, only the mask differs.
    assert enc.state_dict().keys() == dec.state_dict().keys()
    assert all(torch.equal(enc.state_dict()[k], dec.state_dict()[k]) for k in enc.state_dict())
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        assert torch.triu(enc(ids).attentions, diagonal=1).abs().sum() > 0


def test_attention_only_decoder_has_no_feed_forward():
    model = _decoder(d_ff=0)
    assert not any("ff" in name for name, _ in model.named_parameters())
    with pytest.raises(ToyGrammarError, match="d_ff"):
        ToyEncoder(vocab_size=20, max_len=8, d_model=16, num_layers=1, num_heads=2, d_ff=0)


def test_repeated_sequences_repeat_their_run():
    ids, m = repeated_sequences(TINY, 50, torch.Generator().manual_seed(0))
    assert ids.shape == (50, TINY.length)
    assert (ids[:, 0] == BOS_ID).all() and (ids[:, 1:] > BOS_ID).all()
    assert int(m.min()) >= TINY.half // 2 and int(m.max()) <= TINY.half
    assert len(set(m.tolist())) > 1  # the run length varies: no fixed offset finds the copy
    for row, mb in zip(ids, m.tolist(), strict=True):
        assert torch.equal(row[1 : 1 + mb], row[1 + mb : 1 + 2 * mb])


def _perfect_heads(ids: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """[N, 2, 1, T, T]: layer 0 a previous-token head, layer 1 a perfect induction head."""
    n, t = ids.shape
    prev = torch.zeros(n, t, t)
    prev[:, 0, 0] = 1.0
    prev[:, torch.arange(1, t), torch.arange(t - 1)] = 1.0
    ind = torch.zeros(n, t, t)
    ind[:, :, 0] = 1.0  # by default: the start token
    for b, mb in enumerate(m.tolist()):
        for i in range(mb - 1):
            q = 1 + mb + i
            ind[b, q] = 0.0
            ind[b, q, 2 + i] = 1.0
    return torch.stack([prev, ind], dim=1)[:, :, None]


def test_scores_of_hand_made_heads():
    ids, m = repeated_sequences(TINY, 20, torch.Generator().manual_seed(1))
    att = _perfect_heads(ids, m)
    prev = previous_token_scores(att)
    ind = prefix_matching_scores(att, m)
    assert prev.shape == ind.shape == (2, 1)
    assert prev[0, 0].item() == pytest.approx(1.0)
    assert ind[1, 0].item() == pytest.approx(1.0)
    assert ind[0, 0].item() < 0.2  # a previous-token head is not an induction head


def test_half_losses_score_the_right_positions():
    ids, m = repeated_sequences(TINY, 10, torch.Generator().manual_seed(2))
    v = TINY.vocab_size
    # Logits that know the second occurrence exactly and guess uniformly elsewhere.
    logits = torch.zeros(len(ids), ids.shape[1], v)
    for b, mb in enumerate(m.tolist()):
        for p in range(mb + 2, 2 * mb + 1):  # predicted position p, from logits[p - 1]
            logits[b, p - 1, ids[b, p]] = 100.0
    first, second = half_losses(logits, ids, m)
    assert first == pytest.approx(math.log(v), rel=1e-6)
    assert second == pytest.approx(0.0, abs=1e-6)


def test_training_is_reproducible_and_cached(tmp_path):
    a = train_induction(TINY)
    b = train_induction(TINY)
    assert a.weights_hash == b.weights_hash and a.losses == b.losses
    first = load_or_train_induction(TINY, cache_directory=tmp_path)
    again = load_or_train_induction(TINY, cache_directory=tmp_path)
    assert not first.from_cache and again.from_cache
    assert again.weights_hash == a.weights_hash
    assert again.snapshots.steps == [0, 10, 20]
    assert torch.equal(again.snapshots.induction, a.snapshots.induction)


def test_damaged_induction_cache_is_retrained(tmp_path):
    first = load_or_train_induction(TINY, cache_directory=tmp_path)
    (path,) = (tmp_path / "toy").glob("induction-*.pt")
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(ToyCacheWarning, match="SHA-256"):
        again = load_or_train_induction(TINY, cache_directory=tmp_path)
    assert not again.from_cache and again.weights_hash == first.weights_hash
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_or_train_induction(TINY, cache_directory=tmp_path).from_cache


def test_bad_configs_are_refused():
    with pytest.raises(ToyGrammarError, match="half"):
        InductionConfig(half=1)
    with pytest.raises(ToyGrammarError, match="divisible"):
        InductionConfig(d_model=30, num_heads=4)
    with pytest.raises(ToyGrammarError, match="InductionConfig"):
        train_induction("fast")


def test_shortformer_positions_reach_attention_but_not_values():
    ids = torch.full((1, 6), 5)  # one token repeated: only position tells the tokens apart
    plain = _decoder(d_ff=0, num_layers=1)
    short = _decoder(d_ff=0, num_layers=1, positions="qk")
    # Same parameters, so switching where positions enter keeps the weights.
    assert all(
        torch.equal(a, b) for a, b in zip(plain.parameters(), short.parameters(), strict=True)
    )
    with torch.no_grad():
        p, s = plain(ids), short(ids)
    # Attention still depends on position in both (rows differ from uniform) ...
    uniform = torch.tril(torch.ones(6, 6)) / torch.arange(1, 7)[:, None]
    assert not torch.allclose(s.attentions[0, 0, 0], uniform, atol=1e-4)
    # ... but with "qk" every value is the same token's, so every position predicts alike.
    assert torch.allclose(s.logits[0], s.logits[0, :1].expand(6, -1), atol=1e-5)
    assert not torch.allclose(p.logits[0], p.logits[0, :1].expand(6, -1), atol=1e-3)
    with pytest.raises(ToyGrammarError, match="positions"):
        _decoder(positions="rotary")
