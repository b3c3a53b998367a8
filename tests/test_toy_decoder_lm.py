"""The toy GPT: next-word training, held-out scores, grouped key/value heads, cached generation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attnbook import KVCache
from attnbook.toy import ToyDecoder, ToyGrammarError
from attnbook.toy.decoder_lm import (
    BOS_ID,
    EOS_ID,
    LM_VOCAB,
    DecoderConfig,
    DecoderResult,
    bigram_scores,
    decode,
    decoder_cache_path,
    encode_lm,
    encode_words,
    generate,
    load_or_train_decoder,
    next_word_scores,
    train_decoder,
)
from attnbook.toy.grammar import make_split, parse
from attnbook.toy.model import PAD_ID

TINY = DecoderConfig(
    d_model=16,
    num_heads=4,
    d_ff=32,
    n_train=400,
    n_test=60,
    steps=60,
    batch_size=16,
    lr=1e-2,
    warmup=10,
)


def _untrained(dtype=torch.float32, **kw) -> ToyDecoder:
    args = dict(vocab_size=len(LM_VOCAB), max_len=40, d_model=16, num_layers=2, num_heads=4)
    return ToyDecoder(**{**args, "d_ff": 32, "seed": 3, **kw}).to(dtype).eval()


@pytest.mark.parametrize(("kv_heads", "positions"), [(None, "input"), (2, "input"), (1, "qk")])
def test_piecewise_pass_with_caches_equals_one_pass(kv_heads, positions):
    model = _untrained(torch.float64, num_kv_heads=kv_heads, positions=positions)
    ids = torch.randint(2, len(LM_VOCAB), (2, 11), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(ids)
        caches = [KVCache() for _ in range(model.num_layers)]
        pieces, at = [], 0
        for size in (1, 3, 2, 1, 4):  # blocks of new tokens, as a prompt and then steps
            out = model(ids[:, at : at + size], caches=caches)
            # Rows of the piece: its queries against every key so far.
            expect = full.attentions[:, :, :, at : at + size, : at + size]
            assert torch.allclose(out.attentions, expect, atol=1e-12)
            pieces.append(out.logits)
            at += size
    assert torch.allclose(torch.cat(pieces, dim=1), full.logits, atol=1e-10)
    # The caches hold the key/value heads only: grouped-query attention saves memory.
    head_dim = 16 // 4
    assert caches[0].keys.shape == (2, kv_heads or 4, 11, head_dim)


def test_cached_generation_gives_the_logits_of_recomputation():
    model = _untrained(max_len=64)
    prompt = encode_words("the big dog")
    with_cache = generate(model, prompt, 40)
    without = generate(model, prompt, 40, use_cache=False)
    assert torch.equal(with_cache.ids, without.ids)
    assert with_cache.logits.shape == (40, len(LM_VOCAB))
    assert (with_cache.logits - without.logits).abs().max().item() <= 1e-5
    assert len(with_cache.seconds) == len(without.seconds) == 40
    # Greedy: each new id is the top score of its step, and follows the prompt.
    assert torch.equal(with_cache.ids[: len(prompt)], prompt)
    allowed = with_cache.logits.clone()
    allowed[:, [PAD_ID, 1, BOS_ID]] = float("-inf")
    assert torch.equal(with_cache.ids[len(prompt) :], allowed.argmax(-1))
    # Against an independent reference: one pass over the final sequence.
    with torch.no_grad():
        ref = model(with_cache.ids[None, :-1]).logits[0, len(prompt) - 1 :]
    assert torch.allclose(with_cache.logits, ref, atol=1e-5)


def test_generation_stops_and_refuses_bad_input():
    model = _untrained(max_len=12)
    out = generate(model, encode_words("the"), 8)
    first = int(out.ids[2])
    stopped = generate(model, encode_words("the"), 8, stop=first)
    assert len(stopped.ids) == 3 and stopped.logits.shape[0] == 1
    with pytest.raises(ToyGrammarError, match="max_len"):
        generate(model, encode_words("the dog"), 11)
    with pytest.raises(ToyGrammarError, match="new_tokens"):
        generate(model, encode_words("the"), 0)
    with pytest.raises(ToyGrammarError, match="ToyDecoder"):
        generate(torch.nn.Linear(2, 2), [1], 1)
    with pytest.raises(ToyGrammarError, match="unknown words"):
        encode_words("the unicorn")
    with pytest.raises(ToyGrammarError, match="padding"):
        model(torch.tensor([[BOS_ID, PAD_ID]]), caches=[KVCache(), KVCache()])
    with pytest.raises(ToyGrammarError, match="one per layer"):
        model(torch.tensor([[BOS_ID]]), caches=[KVCache()])
    caches = [KVCache(), KVCache()]
    model(torch.tensor([[BOS_ID] + [2] * 11]), caches=caches)
    with pytest.raises(ToyGrammarError, match="max_len"):
        model(torch.tensor([[2]]), caches=caches)


def test_encoding_frames_each_sentence():
    s = parse("the dog chased the cat")
    ids = encode_lm([s, parse("犬 が 猫 を 追う")])
    assert ids.shape == (2, 12)
    assert decode(ids[0, :7]) == ["<s>", *s.tokens, "</s>"]
    assert (ids[0, 7:] == PAD_ID).all() and ids[1, 6] == EOS_ID


def test_next_word_scores_match_a_per_sentence_reference():
    model = _untrained()
    _, test = make_split(50, 20, seed=4)
    ids = encode_lm(test)
    loss, acc = next_word_scores(model, ids)
    # Reference: each sentence alone, unpadded, every next word scored by hand.
    nll, hits, n = 0.0, 0, 0
    with torch.no_grad():
        for s in test:
            seq = encode_words(s.tokens, end=True)
            logp = F.log_softmax(model(seq[None]).logits[0].double(), dim=-1)
            for p in range(1, len(seq)):
                nll -= logp[p - 1, seq[p]].item()
                hits += int(logp[p - 1].argmax() == seq[p])
                n += 1
    assert loss == pytest.approx(nll / n, rel=1e-5)
    assert acc == pytest.approx(hits / n)


def test_bigram_baseline_by_hand():
    train = torch.tensor([[BOS_ID, 2, 3, EOS_ID], [BOS_ID, 2, 3, EOS_ID], [BOS_ID, 2, 4, EOS_ID]])
    test = torch.tensor([[BOS_ID, 2, 4, EOS_ID, PAD_ID]])
    loss, acc = bigram_scores(train, test)
    # Top guesses: after <s> "2" (right), after 2 "3" (wrong: 4), after 4 </s> (right).
    assert acc == pytest.approx(2 / 3)
    v = len(LM_VOCAB)
    p = [(3 + 1) / (3 + v), (1 + 1) / (3 + v), (1 + 1) / (1 + v)]
    assert loss == pytest.approx(-sum(math.log(x) for x in p) / 3, rel=1e-9)


def test_training_is_reproducible_cached_and_learns(tmp_path):
    a = train_decoder(TINY, num_threads=1)
    b = train_decoder(TINY, num_threads=1)
    assert a.weights_hash == b.weights_hash and a.losses == b.losses
    assert len(a.losses) == TINY.steps
    # It learned something: far below guessing uniformly over the vocabulary.
    assert a.test_loss < math.log(len(LM_VOCAB)) - 1.0
    untrained_loss, _ = next_word_scores(TINY.build(), encode_lm(a.sentences()[1]))
    assert a.test_loss < untrained_loss
    first = load_or_train_decoder(TINY, cache=tmp_path, num_threads=1)
    again = load_or_train_decoder(TINY, cache=tmp_path, num_threads=1)
    assert not first.from_cache and again.from_cache
    assert again.weights_hash == a.weights_hash
    assert again.test_accuracy == a.test_accuracy
    assert decoder_cache_path(TINY, tmp_path).exists()
    # Another seed, another model; the key changes with the configuration.
    assert TINY.replace(seed=1).key() != TINY.key()


def test_grouped_query_variant_has_fewer_key_value_weights():
    mha, gqa, mqa = (TINY.replace(num_kv_heads=k).build() for k in (None, 2, 1))
    assert mha.num_kv_heads == 4 and gqa.num_kv_heads == 2 and mqa.num_kv_heads == 1
    widths = [m.blocks[0].attn.k_proj.out_features for m in (mha, gqa, mqa)]
    assert widths == [16, 8, 4]
    # The default is the plain model: same weights as one built without the option.
    plain = ToyDecoder(len(LM_VOCAB), 12, 16, 2, 4, 32, seed=0)
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in mha.state_dict().items())


def test_as_many_key_value_heads_as_query_heads_is_the_plain_config():
    # Chapter 14's MHA run is chapter 12's decoder: one config, one key, one cache file.
    explicit = TINY.replace(num_kv_heads=TINY.num_heads)
    assert explicit == TINY and explicit.num_kv_heads is None
    assert explicit.key() == TINY.key()
    assert decoder_cache_path(explicit) == decoder_cache_path(TINY)
    assert TINY.replace(num_kv_heads=2).key() != TINY.key()


def test_sentences_are_the_configs_split_in_a_new_list_each_time():
    # The split is computed once per (sizes, seed, scrambled) and shared: callers get copies.
    result = DecoderResult(TINY, TINY.build(), [], 0.0, 0.0, "", 0.0)
    train_set, test_set = result.sentences()
    ref_train, ref_test = make_split(TINY.n_train, TINY.n_test, 0, scrambled=TINY.scrambled)
    assert [s.text for s in train_set] == [s.text for s in ref_train]
    assert [s.text for s in test_set] == [s.text for s in ref_test]
    train_set.clear()
    assert len(result.sentences()[0]) == TINY.n_train
    other = DecoderResult(TINY.replace(seed=1), TINY.build(), [], 0.0, 0.0, "", 0.0)
    assert [s.text for s in other.sentences()[0]] != [s.text for s in ref_train]


def test_bad_configs_are_refused():
    with pytest.raises(ToyGrammarError, match="num_kv_heads"):
        DecoderConfig(num_kv_heads=3)
    with pytest.raises(ToyGrammarError, match="divisible"):
        DecoderConfig(d_model=30)
    with pytest.raises(ToyGrammarError, match="steps"):
        DecoderConfig(steps=0)
    with pytest.raises(ToyGrammarError, match="DecoderConfig"):
        train_decoder("fast")
    with pytest.raises(ToyGrammarError, match="num_kv_heads"):
        ToyDecoder(10, 4, 8, 1, 4, 0, num_kv_heads=3)
    assert isinstance(ToyGrammarError("x"), ValueError)
