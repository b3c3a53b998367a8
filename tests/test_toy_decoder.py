"""The toy decoder: the toy encoder's blocks with a causal mask (induction heads: test_induction.py)."""

from __future__ import annotations

import pytest
import torch

from attnbook.toy import ToyDecoder, ToyEncoder, ToyGrammarError


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
