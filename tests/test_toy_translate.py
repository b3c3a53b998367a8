"""The toy translator: parallel pairs and their gold alignment, cross-attention, scoring, caching."""

from __future__ import annotations

import pytest
import torch

from attnbook import AttnbookError
from attnbook.mechanism import MultiHeadAttention
from attnbook.toy import model as toymodel
from attnbook.toy import parallel, translate
from attnbook.toy.grammar import ToyGrammarError, parse
from attnbook.toy.train import weights_hash

TINY = translate.TranslatorConfig(
    d_model=16, num_layers=1, num_heads=2, d_ff=32, n_train=300, n_test=40, steps=3,
    batch_size=16,
)  # fmt: skip


def _by_word(p: parallel.Pair) -> list[tuple[str, str]]:
    return [(w, p.source.tokens[i]) for w, i in zip(p.target.tokens, p.alignment, strict=True)]


def test_alignment_of_a_hand_built_pair_in_both_orders():
    en = "the small boy quickly kicked the old white ball"
    sov = parallel.pair(en, "小さい 少年 が 古い 白い ボール を すばやく 蹴る")
    osv = parallel.pair(en, "古い 白い ボール を 小さい 少年 が すばやく 蹴る")
    assert _by_word(sov) == [
        ("小さい", "small"), ("少年", "boy"), ("が", "boy"), ("古い", "old"), ("白い", "white"),
        ("ボール", "ball"), ("を", "ball"), ("すばやく", "quickly"), ("蹴る", "kicked"),
    ]  # fmt: skip
    assert sov.alignment == (1, 2, 2, 6, 7, 8, 8, 3, 4)
    # Scrambling moves the Japanese words, not what they translate.
    assert sorted(zip(osv.target.tokens, osv.alignment, strict=True)) == sorted(
        zip(sov.target.tokens, sov.alignment, strict=True)
    )
    assert osv.alignment[:4] == (6, 7, 8, 8) and osv.order == "OSV"
    assert osv.roles == ("adjective", "adjective", "object", "を", "adjective", "subject", "が",
                         "adverb", "verb")  # fmt: skip


def test_adjectives_align_within_their_own_noun_phrase():
    # The same adjective on both nouns: each Japanese 大きい goes to its own noun's "big".
    p = parallel.pair("the big dog chased the big cat", "大きい 猫 を 大きい 犬 が 追う")
    assert p.alignment == (5, 6, 6, 1, 2, 2, 3)


@pytest.mark.parametrize(
    "english, japanese",
    [
        ("the dog chased the cat", "猫 が 犬 を 追う"),  # roles swapped
        ("the dog chased the cat", "犬 が 猫 を 見る"),  # another verb
        ("the big dog chased the cat", "犬 が 猫 を 追う"),  # adjective lost
        ("the dog chased the cat", "犬 が 白い 猫 を 追う"),  # adjective added
        ("the dog chased the cat", "犬 が 猫 を よく 追う"),  # adverb added
        ("the dog often chased the cat", "犬 が 猫 を 追う"),  # adverb lost
        ("犬 が 猫 を 追う", "the dog chased the cat"),  # languages the wrong way round
    ],
)
def test_pairs_that_do_not_say_the_same_thing_are_refused(english, japanese):
    with pytest.raises(ToyGrammarError):
        parallel.pair(english, japanese)


def test_generated_pairs_are_translations_with_the_gold_alignment():
    pairs = parallel.generate_pairs(400, seed=5)
    assert parallel.generate_pairs(400, seed=5) == pairs
    assert {p.order for p in pairs} == {"SOV", "OSV"}
    for p in pairs:
        assert parse(p.source.text) == p.source and parse(p.target.text) == p.target
        src, tgt = p.source, p.target
        assert p.alignment[tgt.verb] == src.verb
        assert p.alignment[tgt.subject] == p.alignment[tgt.subject + 1] == src.subject
        assert p.alignment[tgt.object] == p.alignment[tgt.object + 1] == src.object
        # Same event: the nouns translate each other.
        assert toy_en(tgt.tokens[tgt.subject]) == src.tokens[src.subject]
        assert toy_en(tgt.tokens[tgt.object]) == src.tokens[src.object]
    all_osv = parallel.generate_pairs(50, seed=1, scrambled=1.0)
    assert all(p.target.tokens[p.target.object + 1] == "を" for p in all_osv)
    assert all(p.target.object < p.target.subject for p in all_osv)


def toy_en(ja: str) -> str:
    from attnbook.toy.grammar import NOUNS

    return next(n.en for n in NOUNS if n.ja == ja)


def test_held_out_english_sentences_never_occur_in_training():
    train, test = parallel.make_pair_split(2000, 300, seed=2)
    assert len(test) == 300
    assert not {p.source.text for p in train} & {p.source.text for p in test}


def test_cross_attention_sublayer_is_multihead_attention_over_the_memory():
    model = toymodel.ToyEncoderDecoder(30, 8, d_model=8, num_layers=2, num_heads=2, d_ff=16, seed=1)
    block = model.blocks[1]
    assert isinstance(block.cross, MultiHeadAttention)
    src = torch.tensor([[3, 4, 5, 6, 0], [7, 8, 9, 0, 0]])
    tgt = torch.tensor([[2, 10, 11], [2, 12, 0]])
    out = model(src, tgt)
    memory, _ = model.encode(src)
    # Recompute layer 1's cross weights by hand from its input, queries from the target side.
    x = model.tok(tgt) + model.pos(torch.arange(3))[None]
    mask = (tgt != 0)[:, None, None, :] & toymodel.causal_mask(3)
    x, _, _ = model.blocks[0](x, mask, memory, (src != 0)[:, None, None, :])
    h = x + block.attn(block.ln_attn(x), mask=mask)[0]
    q = block.cross.q_proj(block.ln_cross(h)).view(2, 3, 2, 4).transpose(1, 2)
    k = block.cross.k_proj(memory).view(2, 5, 2, 4).transpose(1, 2)
    scores = (q @ k.transpose(-1, -2)) / 2.0
    scores = scores.masked_fill((src == 0)[:, None, None, :], float("-inf"))
    torch.testing.assert_close(out.cross_attentions[:, 1], scores.softmax(-1))
    assert out.cross_attentions.shape == (2, 2, 2, 3, 5)  # non-square: T = 3, S = 5
    # The decoder is causal: changing a later target word leaves earlier logits alone.
    changed = model(src, torch.tensor([[2, 10, 13], [2, 12, 0]]))
    torch.testing.assert_close(changed.logits[:, :2], out.logits[:, :2])


def test_translator_weights_depend_on_the_seed_only_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = toymodel.ToyEncoderDecoder(40, 8, 16, 1, 2, 32, seed=3)
    b = toymodel.ToyEncoderDecoder(40, 8, 16, 1, 2, 32, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert weights_hash(a) == weights_hash(b)
    assert weights_hash(toymodel.ToyEncoderDecoder(40, 8, 16, 1, 2, 32, seed=4)) != weights_hash(a)
    # Source and target embeddings start from different random streams.
    assert not torch.equal(a.encoder.tok.weight, a.tok.weight)
    assert "encoder.out.weight" not in a.state_dict()  # the encoder scores no words


def test_scores_of_a_hand_built_attention():
    p = parallel.pair("the dog chased the cat", "猫 を 犬 が 追う")  # S = 5, T = 5
    assert p.alignment == (4, 4, 1, 1, 2)
    att = torch.zeros(1, 1, 2, 5, 5)
    for j, i in enumerate(p.alignment):
        att[0, 0, 0, j, i] = 1.0  # head 0: the gold alignment
    att[0, 0, 1] = torch.eye(5)  # head 1: the identity, word j -> word j
    table = translate.alignment_scores(att, [p])
    by = {(r.kind, r.layer, r.head): r.correct for r in table.itertuples()}
    assert by[("head", 0, 0)] == 5
    # identity: 猫->the, を->dog (wrong), 犬->chased, が->the, 追う->cat: nothing right
    assert by[("head", 0, 1)] == 0
    # mean of the two heads: 0.5 on the gold and on the identity column, ties go to the
    # first column: 猫 -> the, を -> dog, 犬 -> dog, が -> dog, 追う -> chased: three right
    assert by[("mean", 0, -1)] == 3
    # diagonal with S = T: word j -> word j, the same as the identity head
    assert translate.diagonal([p]) == [(0, 1, 2, 3, 4)]
    assert by[("diagonal", -1, -1)] == 0
    assert set(table.total) == {5}
    assert table.iloc[0].tolist()[:4] == ["head", 0, 0, 5]  # best first
    assert translate.score_pointers([p.alignment], [p], roles=("verb",)) == 1


def test_diagonal_baseline_of_a_longer_sentence():
    p = parallel.pair("the big dog chased the small cat", "大きい 犬 が 小さい 猫 を 追う")
    assert p.alignment == (1, 2, 2, 5, 6, 6, 3)
    # Both sides have 7 words, so the diagonal is word j -> word j: only が (2 -> dog) is right.
    assert translate.diagonal([p]) == [tuple(range(7))]
    assert translate.score_pointers(translate.diagonal([p]), [p]) == 1
    # Unequal lengths: the diagonal runs from corner to corner.
    q = parallel.Pair(p.source, parse("犬 が 猫 を 追う"), (2, 2, 6, 6, 3), ("subject",) * 5)
    assert translate.diagonal([q]) == [(0, 2, 3, 4, 6)]


def test_few_training_steps_are_deterministic_and_cached(tmp_path):
    a = translate.train_translator(TINY, num_threads=1)
    b = translate.train_translator(TINY, num_threads=1)
    assert a.weights_hash == b.weights_hash and a.losses == b.losses
    c = translate.train_translator(TINY.replace(seed=1), num_threads=1)
    assert c.weights_hash != a.weights_hash
    stored = translate.load_or_train_translator(TINY, cache=tmp_path, num_threads=1)
    again = translate.load_or_train_translator(TINY, cache=tmp_path, num_threads=1)
    assert not stored.from_cache and again.from_cache
    assert again.weights_hash == a.weights_hash == weights_hash(again.model)
    assert torch.isfinite(torch.tensor(a.losses)).all()


def test_translate_and_exact_match_on_an_untrained_model_stay_well_formed():
    result = translate.train_translator(TINY.replace(steps=1), num_threads=1)
    _, test = result.pairs()
    out = translate.translate(result.model, [p.source.text for p in test[:5]], "OSV")
    assert len(out) == 5 and all(isinstance(t, str) for t in out)
    assert all(len(t.split()) <= translate.MAX_LEN - 1 for t in out)
    table = translate.exact_match(result.model, test)
    assert table.total.sum() == len(test) and (table.correct <= table.total).all()
    att = translate.cross_attentions(result.model, test[:4])
    assert att.shape[:3] == (4, 1, 2)
    for n, p in enumerate(test[:4]):
        rows = att[n, 0, 0, : len(p.target), : len(p.source)].sum(dim=-1)
        torch.testing.assert_close(rows, torch.ones(len(p.target)))
        assert float(att[n, :, :, :, len(p.source) :].abs().sum()) == 0.0


def test_a_perfect_translator_is_recognised():
    # A "model" that copies the gold answer must score every pair as exact.
    class Oracle(torch.nn.Module):
        max_len = translate.MAX_LEN

        def __init__(self, pairs):
            super().__init__()
            self.answers = {p.source.text: p.target.tokens for p in pairs}

        def encode(self, src):
            return src, None

        def decode(self, out, memory, src):
            logits = torch.full((len(src), out.shape[1], len(translate.VOCAB_SEQ)), -1.0)
            for n, row in enumerate(src.tolist()):
                words = " ".join(translate.VOCAB_SEQ[i] for i in row if i)
                answer = [*self.answers[words], translate.EOS]
                step = out.shape[1] - 1
                word = answer[min(step, len(answer) - 1)]
                logits[n, -1, translate.VOCAB_SEQ.index(word)] = 1.0
            return logits, None, None

    pairs = parallel.generate_pairs(20, seed=4, scrambled=0.0)
    table = translate.exact_match(Oracle(pairs), pairs)
    assert table.to_dict("records") == [{"order": "SOV", "correct": 20, "total": 20}]


@pytest.mark.parametrize(
    "call",
    [
        lambda: translate.TranslatorConfig(d_model=10, num_heads=4),
        lambda: translate.TranslatorConfig(steps=0),
        lambda: translate.translate(None, ["the dog chased the cat"], order="VSO"),
        lambda: translate.encode_pairs([]),
        lambda: parallel.generate_pairs(3, seed=0, scrambled=1.5),
        lambda: translate.alignment_scores(torch.zeros(2, 1, 1, 3, 3), []),
    ],
)
def test_bad_input_gets_a_typed_error(call):
    with pytest.raises(ToyGrammarError) as info:
        call()
    assert isinstance(info.value, AttnbookError) and isinstance(info.value, ValueError)


def test_seq2seq_maps_are_the_translators_three_attentions():
    import attnbook

    model = toymodel.ToyEncoderDecoder(len(translate.VOCAB_SEQ), translate.MAX_LEN, 16, 2, 2, 32)
    p = parallel.pair("the big dog chased the cat", "猫 を 大きい 犬 が 追う")
    maps = translate.seq2seq_maps(model, p)
    assert isinstance(maps, attnbook.Seq2SeqMaps)
    assert maps.source_tokens == list(p.source.tokens)
    assert maps.target_tokens == ["[OSV]", *p.target.tokens]
    # Row j + 1 reads word j; the rows that write the Japanese words are rows 0 .. T - 1.
    rows = translate.cross_attentions(model, [p])[0]  # [L, H, T, S]
    torch.testing.assert_close(maps.cross.attentions[:, :, :-1], rows)
    assert maps.decoder.causal and not maps.cross.causal
    assert float(maps.decoder.attentions[0, 0, 0, 1:].abs().sum()) == 0.0
    fig = attnbook.plot.cross_heatmap(maps, 1, 0)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list(p.source.tokens)
    with pytest.raises(ToyGrammarError):
        translate.seq2seq_maps(model, [p])
