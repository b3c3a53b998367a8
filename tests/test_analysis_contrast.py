"""query_contrast and attention_to: hand-computed cases and a loop-by-loop reference."""

from __future__ import annotations

import pytest
import torch
from synthetic_maps import synthetic_maps

import attnbook
from attnbook.analysis import attention_to, query_contrast
from attnbook.errors import AnalysisInputError, WordNotFoundError
from attnbook.maps import AttentionMaps


def hand_maps(rows, tokens):
    """One layer, one head, with the given attention rows; [CLS]/[SEP] special."""
    n = len(tokens)
    special = [t in ("[CLS]", "[SEP]") for t in tokens]
    words = [t for t, s in zip(tokens, special, strict=True) if not s]
    word_ids, w = [], 0
    for s in special:
        word_ids.append(None if s else w)
        w += not s
    att = torch.tensor(rows, dtype=torch.float32).reshape(1, 1, n, n)
    return AttentionMaps(
        tokens=list(tokens),
        word_ids=word_ids,
        words=words,
        special=torch.tensor(special),
        attentions=att,
        model_id="hand",
        segment_ids=[0] * n,
        text=" ".join(words),
    )


def test_the_keys_own_rows_are_not_other_words():
    # q gives 0.5 to k; the only other word, a, gives 0.1; k itself gives 1.0 to k.
    tokens = ["[CLS]", "a", "q", "k", "[SEP]"]
    rows = [
        [1.0, 0, 0, 0, 0],
        [0.5, 0.3, 0.1, 0.1, 0],
        [0.2, 0.1, 0.2, 0.5, 0],
        [0, 0, 0, 1.0, 0],
        [0, 0, 0, 0, 1.0],
    ]
    c = query_contrast(hand_maps(rows, tokens), "q", "k")
    assert c.attrs["others"] == ["a"]
    assert c.loc[0, "k"] == pytest.approx(0.5)
    assert c.loc[0, "others_k"] == pytest.approx(0.1)  # 0.55 if k's own row counted
    assert c.loc[0, "margin"] == pytest.approx(0.4)


def test_margin_is_the_weaker_key():
    tokens = ["[CLS]", "x", "q", "k1", "k2", "[SEP]"]
    rows = [
        [1.0, 0, 0, 0, 0, 0],
        [0, 0.2, 0, 0.1, 0.7, 0],  # x: the other word, fond of k2
        [0, 0, 0.2, 0.4, 0.4, 0],  # q
        [0, 0, 0, 1.0, 0, 0],
        [0, 0, 0, 0, 1.0, 0],
        [0, 0, 0, 0, 0, 1.0],
    ]
    c = query_contrast(hand_maps(rows, tokens), "q", ["k1", "k2"])
    # k1: 0.4 - 0.1 = 0.3, k2: 0.4 - 0.7 = -0.3 -> the margin is the weaker one
    assert c.loc[0, "margin"] == pytest.approx(-0.3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_loop_over_rows(seed):
    tokens = ["[CLS]", "a", "b", "q", "c", "k1", "d", "k2", "[SEP]"]
    maps = synthetic_maps(tokens, layers=2, heads=3, seed=seed)
    c = query_contrast(maps, "q", ["k1", "k2"])
    q, k1, k2 = 3, 5, 7
    others = [1, 2, 4, 6]
    assert c.attrs["others"] == ["a", "b", "c", "d"]
    for row in c.itertuples():
        w = maps.attentions[row.layer, row.head]
        assert row.k1 == pytest.approx(float(w[q, k1]), abs=1e-6)
        mean_k1 = sum(float(w[i, k1]) for i in others) / len(others)
        mean_k2 = sum(float(w[i, k2]) for i in others) / len(others)
        assert row.others_k1 == pytest.approx(mean_k1, abs=1e-6)
        assert row.others_k2 == pytest.approx(mean_k2, abs=1e-6)
        expected = min(float(w[q, k1]) - mean_k1, float(w[q, k2]) - mean_k2)
        assert row.margin == pytest.approx(expected, abs=1e-6)
    assert list(c["layer"]) == [0, 0, 0, 1, 1, 1] and list(c["head"]) == [0, 1, 2] * 2


def test_split_words_follow_clarks_rule():
    maps = attnbook.attend("The dog chased the unbelievably fast cat")
    assert len(maps.token_index("unbelievably")) > 1
    c = query_contrast(maps, "chased", ["unbelievably", "cat"])
    reference = maps.query_to_keys("chased", ["unbelievably", "cat"])
    assert c["unbelievably"].to_numpy() == pytest.approx(reference["unbelievably"].to_numpy())
    # the other words' rows at word level: a split word's row is the mean of its pieces'
    words = maps.to_words()
    others = [words.tokens.index(w) for w in ("The", "dog", "fast")] + [4]  # 4: second "the"
    assert words.tokens[4] == "the"
    col = words.tokens.index("unbelievably")
    expected = words.attentions[:, :, others, col].mean(-1).reshape(-1)
    assert c["others_unbelievably"].to_numpy() == pytest.approx(expected.numpy(), abs=1e-6)
    assert sorted(c.attrs["others"]) == sorted(["The", "dog", "the", "fast"])


def test_no_other_word_is_a_clear_error():
    maps = synthetic_maps(["[CLS]", "q", "k", "[SEP]"], layers=1, heads=1)
    with pytest.raises(AnalysisInputError, match="no other words") as info:
        query_contrast(maps, "q", "k")
    assert isinstance(info.value, ValueError)
    with pytest.raises(WordNotFoundError):
        query_contrast(maps, "q", "nope")


def test_attention_to_sums_the_occurrences_over_ordinary_queries():
    tokens = ["[CLS]", "u", "a", "u", "[SEP]"]
    rows = [
        [0, 1.0, 0, 0, 0],  # special query: not counted
        [0.1, 0.2, 0.3, 0.4, 0],
        [0.5, 0.0, 0.5, 0.0, 0],
        [0, 0.5, 0, 0.5, 0],
        [0, 0, 0, 0, 1.0],
    ]
    to_u = attention_to(hand_maps(rows, tokens), "u")
    # (0.2 + 0.4) + (0 + 0) + (0.5 + 0.5), over three ordinary queries
    assert to_u.loc[0, "weight"] == pytest.approx(1.6 / 3)


def test_attention_to_matches_a_loop_and_fails_on_a_missing_token():
    tokens = ["[CLS]", "x", "[UNK]", "y", "[UNK]", "[SEP]"]
    maps = synthetic_maps(tokens, layers=2, heads=2, seed=4)
    to_unk = attention_to(maps, "[UNK]")
    for row in to_unk.itertuples():
        w = maps.attentions[row.layer, row.head]
        expected = sum(float(w[i, 2] + w[i, 4]) for i in (1, 2, 3, 4)) / 4
        assert row.weight == pytest.approx(expected, abs=1e-6)
    with pytest.raises(AnalysisInputError, match="not among the tokens") as info:
        attention_to(maps, "[MASK]")
    assert isinstance(info.value, ValueError)
