"""attnbook.maps: attend() and AttentionMaps against transformers, hand-computed values and loops."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import attnbook
from attnbook import AttentionMaps, attend
from attnbook.errors import (
    AttnbookError,
    EmptyTextError,
    HeadOutOfRangeError,
    InvalidOptionError,
    LayerOutOfRangeError,
    MapsShapeError,
    NotTextError,
    TextTooLongError,
    UnknownTokenWarning,
    WordNotFoundError,
)
from attnbook.maps import UNKNOWN_TOKEN_THRESHOLD
from attnbook.models import default_model_path

SENTENCES = [
    "The dog chased the cat.",
    "Attention is unbelievably simple, isn't it?",
    "A café in São Paulo serves coffee at 7:30.",
    "Transformers don't read left to right; they look everywhere at once.",
]


@pytest.fixture(scope="module")
def plain():
    """The default model loaded by plain transformers, independently of attnbook."""
    path = default_model_path(verify=False)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager")
    return tokenizer, model.eval()


def plain_attentions(plain, text, pair=None):
    tokenizer, model = plain
    enc = tokenizer(text, pair, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    return tokens, torch.cat(out.attentions)


def hand_maps(attentions, tokens, word_ids, words, special=None, segment_ids=None):
    attentions = torch.as_tensor(attentions, dtype=torch.float32)
    n = len(tokens)
    if special is None:
        special = [w is None for w in word_ids]
    return AttentionMaps(
        tokens=tokens,
        word_ids=word_ids,
        words=words,
        special=torch.tensor(special),
        attentions=attentions,
        model_id="hand",
        segment_ids=segment_ids or [0] * n,
        text=" ".join(words),
    )


# ----- the numbers equal transformers' ------------------------------------


@pytest.mark.parametrize("text", SENTENCES)
def test_attend_equals_plain_transformers(plain, text):
    tokens, reference = plain_attentions(plain, text)
    maps = attend(text)
    assert maps.tokens == tokens
    assert maps.attentions.dtype == torch.float32
    assert maps.attentions.shape == (6, 12, len(tokens), len(tokens))
    assert (maps.attentions - reference).abs().max().item() <= 1e-6


def test_pair_equals_plain_transformers_and_keeps_the_boundary(plain):
    text, pair = "The dog barks.", "It is very loud."
    tokens, reference = plain_attentions(plain, text, pair)
    maps = attend(text, pair=pair)
    assert maps.tokens == tokens
    assert (maps.attentions - reference).abs().max().item() <= 1e-6
    first_sep = tokens.index("[SEP]")
    assert maps.sep_positions == [first_sep, len(tokens) - 1]
    assert maps.segment_ids == [0] * (first_sep + 1) + [1] * (len(tokens) - first_sep - 1)
    assert maps.words == ["The", "dog", "barks", ".", "It", "is", "very", "loud", "."]
    assert maps.text == text and maps.pair == pair
    # the two '.' are different words, one per segment
    dots = [maps.token_index(".", occurrence=i) for i in (0, 1)]
    assert [maps.segment_ids[d[0]] for d in dots] == [0, 1]
    words = maps.to_words()
    assert words.segment_ids[words.tokens.index("loud")] == 1
    assert words.sep_positions == [words.tokens.index("[SEP]"), words.num_tokens - 1]


def test_attentions_are_an_ordinary_tensor():
    maps = attend("The dog chased the cat.")
    assert not maps.attentions.is_inference()
    maps.attentions.add_(0.0)  # in place: an inference tensor would raise here (a clone never)
    (maps.attentions * torch.ones(1, requires_grad=True)).sum().backward()


# ----- words --------------------------------------------------------------


def test_words_are_original_text_spans():
    text = "A café in São Paulo serves coffee at 7:30."
    maps = attend(text)
    assert maps.words == [
        "A",
        "café",
        "in",
        "São",
        "Paulo",
        "serves",
        "coffee",
        "at",
        "7",
        ":",
        "30",
        ".",
    ]
    for w, word in enumerate(maps.words):
        assert word in text
        pieces = [maps.tokens[i] for i, wid in enumerate(maps.word_ids) if wid == w]
        assert pieces, word
    # uncased WordPiece folds the accent; the word is found either way
    assert maps.token_index("cafe") == maps.token_index("CAFÉ") == maps.token_index("café")
    assert maps.tokens[maps.token_index("café")[0]] == "cafe"


def test_word_ids_and_special_mask():
    maps = attend("Attention is unbelievably simple.")
    assert maps.special.tolist() == [w is None for w in maps.word_ids]
    assert maps.special.dtype == torch.bool
    pieces = maps.token_index("unbelievably")
    assert len(pieces) > 1
    assert "".join(maps.tokens[i].removeprefix("##") for i in pieces) == "unbelievably"


def test_token_index_occurrence_and_tokens():
    maps = attend("The dog saw the other dog.")
    assert maps.token_index("dog") == [2]
    assert maps.token_index("DOG", occurrence=1) == [6]
    assert maps.token_index("the", 1) == [4]
    assert maps.token_index("[CLS]") == [0]
    with pytest.raises(WordNotFoundError, match="occurs 2 time"):
        maps.token_index("dog", occurrence=2)


def test_missing_word_lists_the_words_that_are_there():
    maps = attend("The dog chased the cat.")
    with pytest.raises(WordNotFoundError) as info:
        maps.top_heads("chased", ["horse"])
    message = str(info.value)
    assert "'horse' is not in the sentence" in message
    for word in ("'The'", "'dog'", "'chased'", "'cat'"):
        assert word in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, AttnbookError)


# ----- to_words: Clark et al. ------------------------------------------------


def test_to_words_hand_computed():
    # tokens: [CLS] un ##real [SEP]; the word "unreal" has two pieces.
    a = torch.tensor(
        [
            [0.1, 0.2, 0.3, 0.4],
            [0.5, 0.1, 0.1, 0.3],
            [0.2, 0.2, 0.4, 0.2],
            [0.7, 0.1, 0.1, 0.1],
        ]
    )
    maps = hand_maps(
        a[None, None], ["[CLS]", "un", "##real", "[SEP]"], [None, 0, 0, None], ["unreal"]
    )
    words = maps.to_words()
    expected = torch.tensor(
        [
            [0.1, 0.2 + 0.3, 0.4],  # to "unreal": summed over its pieces
            [(0.5 + 0.2) / 2, (0.1 + 0.1 + 0.2 + 0.4) / 2, (0.3 + 0.2) / 2],  # from: averaged
            [0.7, 0.1 + 0.1, 0.1],
        ]
    )
    torch.testing.assert_close(words.head(0, 0), expected)
    assert words.tokens == ["[CLS]", "unreal", "[SEP]"]
    assert words.word_ids == [None, 0, None]
    assert words.special.tolist() == [True, False, True]
    assert words.level == "word" and words.to_words() is words


def loop_to_words(maps: AttentionMaps) -> torch.Tensor:
    """Clark et al.'s conversion written as plain loops (independent reference)."""
    units = []
    for i, w in enumerate(maps.word_ids):
        if w is not None and units and any(maps.word_ids[j] == w for j in units[-1]):
            units[-1].append(i)
        else:
            units.append([i])
    a = maps.attentions.double()
    L, H = a.shape[:2]
    out = torch.zeros(L, H, len(units), len(units), dtype=torch.float64)
    for layer in range(L):
        for head in range(H):
            for u, rows in enumerate(units):
                for v, cols in enumerate(units):
                    total = 0.0
                    for r in rows:
                        for c in cols:
                            total += a[layer, head, r, c].item()
                    out[layer, head, u, v] = total / len(rows)
    return out


def test_to_words_equals_a_loop_implementation():
    maps = attend("Unbelievably, tokenization splits words.")
    assert maps.num_tokens > len(maps.words) + 2  # some words really are split
    words = maps.to_words()
    reference = loop_to_words(maps)
    assert (words.attentions.double() - reference).abs().max().item() < 1e-6
    torch.testing.assert_close(
        words.attentions.sum(-1), torch.ones(6, 12, words.num_tokens), atol=1e-5, rtol=0
    )
    assert words.tokens == [
        "[CLS]",
        "Unbelievably",
        ",",
        "tokenization",
        "splits",
        "words",
        ".",
        "[SEP]",
    ]


# ----- tables -------------------------------------------------------------


def test_to_dataframe_is_the_head():
    maps = attend("The dog chased the cat.")
    frame = maps.to_dataframe(2, 7)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == maps.tokens and list(frame.columns) == maps.tokens
    np.testing.assert_array_equal(frame.to_numpy(), maps.attentions[2, 7].numpy())


def brute_force(maps, query_rows, key_groups):
    scores = {}
    for layer in range(maps.num_layers):
        for head in range(maps.num_heads):
            a = maps.attentions[layer, head]
            per_key = [
                sum(a[r, c].item() for r in query_rows for c in cols) / len(query_rows)
                for cols in key_groups
            ]
            scores[(layer, head)] = per_key
    return scores


def test_top_heads_matches_brute_force():
    maps = attend("The dog chased the cat.")
    top = maps.top_heads("chased", ["dog", "cat"], k=5)
    scores = brute_force(maps, [3], [[2], [5]])
    ranked = sorted(scores, key=lambda lh: -sum(scores[lh]))[:5]
    assert list(zip(top["layer"], top["head"], strict=True)) == ranked
    for row in top.itertuples():
        assert row.dog == pytest.approx(scores[(row.layer, row.head)][0], abs=1e-6)
        assert row.weight == pytest.approx(sum(scores[(row.layer, row.head)]), abs=1e-6)


def test_top_heads_split_query_and_word_level_agree():
    maps = attend("Unbelievably, the dog barks.")
    token_level = maps.top_heads("unbelievably", ["dog", "barks"], k=4)
    word_level = maps.to_words().top_heads("unbelievably", ["dog", "barks"], k=4)
    pd.testing.assert_frame_equal(token_level, word_level, atol=1e-5)


def test_top_heads_occurrence_picks_the_repeat():
    maps = attend("The dog saw the other dog.")
    first = maps.query_to_keys("dog", "saw")
    second = maps.query_to_keys("dog", "saw", occurrence=1)
    np.testing.assert_allclose(first["saw"], maps.attentions[:, :, 2, 3].reshape(-1))
    np.testing.assert_allclose(second["saw"], maps.attentions[:, :, 6, 3].reshape(-1))
    by_tuple = maps.query_to_keys("saw", [("dog", 1)])
    np.testing.assert_allclose(by_tuple["dog#1"], maps.attentions[:, :, 3, 6].reshape(-1))


def test_layer_profile_is_max_and_mean_over_heads():
    maps = attend("The dog chased the cat.")
    profile = maps.layer_profile("chased", ["dog", "cat"])
    weights = maps.attentions[:, :, 3][:, :, [2, 5]].sum(-1)  # [L, H]
    np.testing.assert_allclose(profile["max"], weights.max(dim=1).values, atol=1e-6)
    np.testing.assert_allclose(profile["mean"], weights.mean(dim=1), atol=1e-6)
    assert list(profile["best_head"]) == weights.argmax(dim=1).tolist()
    assert list(profile.index) == list(range(6))


# ----- bad input -------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_text(bad):
    with pytest.raises(EmptyTextError, match="empty"):
        attend(bad)
    with pytest.raises(EmptyTextError, match="pair"):
        attend("fine", pair=bad)


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["a", "list"]])
def test_not_text(bad):
    with pytest.raises(NotTextError, match="must be a str") as info:
        attend(bad)
    assert isinstance(info.value, TypeError)


def test_too_long_gives_count_and_limit():
    text = "word " * 600
    with pytest.raises(TextTooLongError, match=r"602 tokens .* at most 512") as info:
        attend(text)
    assert (info.value.num_tokens, info.value.limit) == (602, 512)
    assert "truncation=True" in str(info.value)


def test_max_length_and_truncation():
    with pytest.raises(TextTooLongError, match="at most 6"):
        attend("The dog chased the cat.", max_length=6)
    maps = attend("The dog chased the cat.", max_length=6, truncation=True)
    assert maps.tokens == ["[CLS]", "the", "dog", "chased", "the", "[SEP]"]
    assert maps.words == ["The", "dog", "chased", "the"]
    long = attend("word " * 600, truncation=True, max_length=16)
    assert long.num_tokens == 16 and long.tokens[-1] == "[SEP]"


def test_layer_and_head_out_of_range():
    maps = attend("The dog chased the cat.")
    with pytest.raises(LayerOutOfRangeError, match=r"6 layers, ids 0\.\.5") as info:
        maps.head(6, 0)
    assert isinstance(info.value, IndexError)
    with pytest.raises(HeadOutOfRangeError, match=r"12 heads .* 0\.\.11"):
        maps.to_dataframe(0, 12)
    torch.testing.assert_close(maps.head(-1, -1), maps.attentions[5, 11])


def test_japanese_through_the_english_model_warns():
    with pytest.warns(UnknownTokenWarning, match=r"33% of the text's tokens are unknown"):
        maps = attend("犬が猫を追う")
    ordinary = [t for t, s in zip(maps.tokens, maps.special.tolist(), strict=True) if not s]
    assert sum(t == "[UNK]" for t in ordinary) / len(ordinary) > UNKNOWN_TOKEN_THRESHOLD
    assert "か" in maps.tokens  # uncased normalisation strips the voicing mark of が
    assert maps.words == ["犬", "が", "猫", "を", "追", "う"]  # words stay as written


def test_unknown_token_warning_threshold():
    text = "龘龘龘 dog"  # three CJK characters the vocabulary lacks, one known word
    with pytest.warns(UnknownTokenWarning, match=r"75% .*\[UNK\].*attnbook\[ja\].*ATTNBOOK_MODEL"):
        maps = attend(text)
    assert maps.tokens.count("[UNK]") == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attend("The dog 龘 chased the cat.")  # 1 of 6: below the threshold, no warning


def test_attend_via_package_namespace():
    assert attnbook.attend is attend
    assert isinstance(attend("Hello world."), attnbook.AttentionMaps)


def test_hand_built_maps_are_checked():
    a = torch.full((1, 1, 3, 3), 1 / 3)
    tokens, word_ids = ["[CLS]", "dog", "[SEP]"], [None, 0, None]
    ok = hand_maps(a, tokens, word_ids, ["dog"])
    assert ok.special.tolist() == [True, False, True]
    with pytest.raises(MapsShapeError, match=r"\[layers, heads, T, T\]"):
        hand_maps(a[0], tokens, word_ids, ["dog"])
    with pytest.raises(MapsShapeError, match="tokens"):
        hand_maps(a, tokens[:2], word_ids, ["dog"])
    with pytest.raises(MapsShapeError, match="do not index"):
        hand_maps(a, tokens, [None, 1, None], ["dog"])
    special_as_list = AttentionMaps(
        tokens=tokens,
        word_ids=word_ids,
        words=["dog"],
        special=[True, False, True],
        attentions=a,
        model_id="hand",
        segment_ids=[0, 0, 0],
        text="dog",
    )
    assert special_as_list.special.dtype == torch.bool


# ----- property: words, pieces and text agree --------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

VOCABULARY = ["The", "dog", "Café", "unbelievably", "naïve", "don't", "x-ray", "42", "!", "東京"]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=8), st.sampled_from([" ", "  "]))
def test_words_are_spans_in_order_and_pieces_spell_them(chosen, gap):
    from attnbook.maps import _fold

    text = gap.join(chosen)
    maps = attend(text)
    position = 0
    for w, word in enumerate(maps.words):
        found = text.find(word, position)
        assert found >= 0, (word, text)  # each word is a span of the text, in order
        position = found + len(word)
        pieces = [maps.tokens[i] for i, wid in enumerate(maps.word_ids) if wid == w]
        if "[UNK]" not in pieces:
            assert "".join(p.removeprefix("##") for p in pieces) == _fold(word)
    assert maps.special.tolist() == [wid is None for wid in maps.word_ids]
    assert sorted({w for w in maps.word_ids if w is not None}) == list(range(len(maps.words)))


def test_keys_as_a_tuple_of_words_or_an_occurrence_pair():
    maps = attend("The dog saw the other dog.")
    as_tuple = maps.query_to_keys("saw", ("dog", "other"))
    as_list = maps.query_to_keys("saw", ["dog", "other"])
    pd.testing.assert_frame_equal(as_tuple, as_list)
    one = maps.query_to_keys("saw", ("dog", 1))  # a single (word, occurrence) key
    assert list(one.columns) == ["layer", "head", "dog#1", "weight"]
    with pytest.raises(WordNotFoundError, match="word or a"):
        maps.query_to_keys("saw", ["dog", 3])
    with pytest.raises(WordNotFoundError, match="at least one key"):
        maps.top_heads("saw", [])


def test_invalid_options():
    maps = attend("The dog chased the cat.")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidOptionError, match="k must be a positive int"):
            maps.top_heads("chased", "dog", k=bad)
    with pytest.raises(InvalidOptionError, match="max_length"):
        attend("The dog.", max_length=0)
    with pytest.raises(LayerOutOfRangeError):
        maps.head(True, 0)  # a bool is not a layer id
    with pytest.raises(WordNotFoundError, match="non-negative"):
        maps.token_index("dog", occurrence=-1)
