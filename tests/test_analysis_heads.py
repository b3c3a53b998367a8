"""Clark et al. head statistics: hand-computed values, properties, and an independent check."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import attnbook
from attnbook.analysis import (
    HEAD_STATISTICS_COLUMNS,
    head_statistics,
    layer_summary,
    smoothed_entropy,
)
from attnbook.errors import AnalysisInputError


def fake_maps(attentions, tokens, special=None):
    """An AttentionMaps stand-in: the three fields head_statistics reads."""
    attentions = torch.as_tensor(attentions, dtype=torch.float32)
    if special is None:
        special = [t.startswith("[") for t in tokens]
    return SimpleNamespace(
        attentions=attentions, tokens=list(tokens), special=torch.tensor(special)
    )


def random_maps(seed, layers=2, heads=3, tokens=("[CLS]", "a", ",", "b", ".", "[SEP]")):
    g = torch.Generator().manual_seed(seed)
    t = len(tokens)
    scores = torch.randn(layers, heads, t, t, generator=g) * 3
    return fake_maps(scores.softmax(-1), tokens)


TOKENS = ["[CLS]", "hi", ".", "[SEP]"]
ONE_HEAD = [
    [0.5, 0.5, 0.0, 0.0],
    [0.25, 0.25, 0.25, 0.25],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 0.5, 0.5],
]


def test_hand_computed_values():
    stats = head_statistics(fake_maps([[ONE_HEAD]], TOKENS))
    assert list(stats.columns) == list(HEAD_STATISTICS_COLUMNS)
    row = stats.iloc[0]
    assert (row["layer"], row["head"], row["n_queries"]) == (0, 0, 4)
    # Column sums over the four queries, divided by 4.
    assert row.to_cls == pytest.approx((0.5 + 0.25) / 4)
    assert row.to_sep == pytest.approx((0.25 + 0.5) / 4)
    assert row.to_punct == pytest.approx((0.25 + 0.5) / 4)
    assert row.to_other == pytest.approx((0.5 + 0.25 + 1.0) / 4)
    # sum_j a_ij |i-j| per query: 0.5, 1.0, 1.0, 0.5.
    assert row.mean_distance == pytest.approx(3.0 / 4)
    # a[1,0] + a[2,1] + a[3,2] over 3 queries; a[0,1] + a[1,2] + a[2,3] over 3.
    assert row.prev == pytest.approx(1.75 / 3)
    assert row.next == pytest.approx(0.75 / 3)

    def h(weights):  # Clark et al.'s smoothed entropy written out for n = 4
        s = [0.9999 * w + 1e-4 / 4 for w in weights]
        return -sum(p * math.log(p) for p in s)

    expected = (h([0.5, 0.5, 0, 0]) + math.log(4) + h([0, 1, 0, 0]) + h([0, 0, 0.5, 0.5])) / 4
    assert row.entropy == pytest.approx(expected, rel=1e-12)
    assert row.uniform_entropy == pytest.approx(math.log(4), rel=1e-12)


def test_ids_are_zero_indexed_layer_major():
    stats = head_statistics(random_maps(0, layers=3, heads=4))
    assert stats.layer.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert stats["head"].tolist() == [0, 1, 2, 3] * 3
    assert "0-indexed" in HEAD_STATISTICS_COLUMNS["layer"]
    assert "0-indexed" in HEAD_STATISTICS_COLUMNS["head"]


@pytest.mark.parametrize("seed", range(5))
def test_shares_sum_to_one(seed):
    stats = head_statistics(random_maps(seed))
    total = stats[["to_cls", "to_sep", "to_punct", "to_other"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert (stats.entropy <= stats.uniform_entropy + 1e-9).all()


@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_uniform_attention_has_entropy_log_n(n):
    tokens = ["[CLS]"] + ["w"] * (n - 2) + ["[SEP]"] if n > 1 else ["x"]
    stats = head_statistics(fake_maps(torch.full((1, 1, n, n), 1.0 / n), tokens))
    assert stats.entropy[0] == pytest.approx(math.log(n), abs=1e-6)
    assert stats.uniform_entropy[0] == pytest.approx(math.log(n), abs=1e-12)


def test_one_hot_attention_entropy_is_near_zero_but_positive():
    n = 6
    e = smoothed_entropy(torch.eye(n)[None])
    assert ((e > 0) & (e < 0.01)).all()


def test_pure_previous_and_next_token_heads():
    n = 7
    prev = torch.zeros(n, n)
    prev[0, 0] = 1
    prev[torch.arange(1, n), torch.arange(n - 1)] = 1
    nxt = torch.zeros(n, n)
    nxt[n - 1, n - 1] = 1
    nxt[torch.arange(n - 1), torch.arange(1, n)] = 1
    maps = fake_maps(torch.stack([prev, nxt])[None], ["[CLS]"] + ["w"] * (n - 2) + ["[SEP]"])
    stats = head_statistics(maps)
    assert stats.prev.tolist() == pytest.approx([1.0, 0.0])
    assert stats.next.tolist() == pytest.approx([0.0, 1.0])
    # Every query but one looks exactly one token away.
    assert stats.mean_distance.tolist() == pytest.approx([(n - 1) / n] * 2)


def test_many_texts_are_token_averaged():
    short = random_maps(1, tokens=("[CLS]", "x", "[SEP]"))
    long = random_maps(2)
    both = head_statistics([short, long])
    a, b = head_statistics(short), head_statistics(long)
    wa, wb = a.n_queries[0], b.n_queries[0]
    assert both.n_queries[0] == wa + wb
    for col in ["to_cls", "to_sep", "to_punct", "entropy", "uniform_entropy", "mean_distance"]:
        np.testing.assert_allclose(both[col], (wa * a[col] + wb * b[col]) / (wa + wb))
    # prev/next average over the queries that have a neighbour: T - 1 per text.
    np.testing.assert_allclose(both.prev, ((wa - 1) * a.prev + (wb - 1) * b.prev) / (wa + wb - 2))
    # A generator works like a list.
    pd.testing.assert_frame_equal(head_statistics(m for m in [short, long]), both)


def test_punctuation_set_and_special_tokens():
    tokens = ["[CLS]", "a", ",", "!", "[SEP]"]
    a = torch.zeros(1, 1, 5, 5)
    a[..., 3] = 1.0  # everyone looks at "!"
    default = head_statistics(fake_maps(a, tokens))
    assert default.to_punct[0] == 1.0
    clark = head_statistics(fake_maps(a, tokens), punctuation={".", ","})
    assert clark.to_punct[0] == 0.0 and clark.to_other[0] == 1.0
    # A [SEP] string that is not flagged special is an ordinary token.
    unflagged = fake_maps(a.roll(1, -1), tokens, special=[True, False, False, False, False])
    assert head_statistics(unflagged).to_sep[0] == 0.0


def test_roberta_style_special_tokens():
    a = torch.zeros(1, 1, 3, 3)
    a[..., 0] = 0.25
    a[..., 2] = 0.75
    stats = head_statistics(fake_maps(a, ["<s>", "hi", "</s>"], special=[True, False, True]))
    assert (stats.to_cls[0], stats.to_sep[0]) == (0.25, 0.75)


def test_layer_summary_aggregates_heads():
    stats = head_statistics(random_maps(3, layers=3, heads=4))
    means = layer_summary(stats)
    assert means.layer.tolist() == [0, 1, 2]
    assert "head" not in means and "n_queries" not in means
    for layer in range(3):
        rows = stats[stats.layer == layer]
        assert means.to_cls[layer] == pytest.approx(rows.to_cls.mean())
        assert layer_summary(stats, "max").entropy[layer] == pytest.approx(rows.entropy.max())
    with pytest.raises(AnalysisInputError, match="agg"):
        layer_summary(stats, "sum")
    with pytest.raises(AnalysisInputError, match="head_statistics"):
        layer_summary(pd.DataFrame({"x": [1]}))


def test_bad_inputs_raise_typed_errors():
    good = random_maps(0)
    with pytest.raises(AnalysisInputError, match="empty"):
        head_statistics([])
    with pytest.raises(AnalysisInputError, match="AttentionMaps"):
        head_statistics("the cat")
    with pytest.raises(AnalysisInputError, match="item 1"):
        head_statistics([good, 3])
    with pytest.raises(AnalysisInputError, match=r"\[layers, heads, T, T\]"):
        head_statistics(fake_maps(torch.ones(2, 2) / 2, ["a", "b"]))
    with pytest.raises(AnalysisInputError, match="sum to 1"):
        head_statistics(fake_maps(torch.ones(1, 1, 2, 2), ["a", "b"]))
    with pytest.raises(AnalysisInputError, match="tokens"):
        head_statistics(fake_maps(torch.ones(1, 1, 2, 2) / 2, ["a", "b", "c"]))
    with pytest.raises(AnalysisInputError, match="one model"):
        head_statistics([good, random_maps(0, layers=1)])
    assert issubclass(AnalysisInputError, (attnbook.AttnbookError, ValueError))


# --- an independent, loop-by-loop implementation on a real model's maps -------------------------


def reference_statistics(maps_list):
    """Clark et al.'s measures written the slow way, in NumPy, straight from the definitions."""
    rows = {}
    for maps in maps_list:
        att = maps.attentions.double().numpy()
        tokens = list(maps.tokens)
        special = maps.special.tolist()
        layers, heads, n, _ = att.shape
        for lay in range(layers):
            for hd in range(heads):
                acc = rows.setdefault((lay, hd), {"q": 0, "pq": 0, "nq": 0, "v": np.zeros(9)})
                for i in range(n):
                    a = att[lay, hd, i]
                    cls = sum(a[j] for j in range(n) if special[j] and tokens[j] == "[CLS]")
                    sep = sum(a[j] for j in range(n) if special[j] and tokens[j] == "[SEP]")
                    punct = sum(
                        a[j] for j in range(n) if not special[j] and tokens[j] in {".", ",", "?"}
                    )
                    s = 0.9999 * a + 1e-4 / n
                    ent = -np.sum(s * np.log(s))
                    dist = sum(a[j] * abs(i - j) for j in range(n))
                    prev = a[i - 1] if i > 0 else 0.0
                    nxt = a[i + 1] if i < n - 1 else 0.0
                    other = 1 - cls - sep - punct
                    acc["v"] += [cls, sep, punct, other, ent, np.log(n), dist, prev, nxt]
                    acc["q"] += 1
                    acc["pq"] += i > 0
                    acc["nq"] += i < n - 1
    out = []
    for (lay, hd), acc in sorted(rows.items()):
        v = acc["v"]
        out.append([lay, hd, *(v[:7] / acc["q"]), v[7] / acc["pq"], v[8] / acc["nq"]])
    cols = ["layer", "head", "to_cls", "to_sep", "to_punct", "to_other", "entropy"]
    return pd.DataFrame(out, columns=cols + ["uniform_entropy", "mean_distance", "prev", "next"])


def test_matches_independent_implementation_on_real_maps():
    texts = [
        "Why would a lighthouse keeper collect seashells, stones and feathers?",
        "Rain fell.",
    ]
    maps_list = [attnbook.attend(t) for t in texts]
    ours = head_statistics(maps_list, punctuation={".", ",", "?"})
    ref = reference_statistics(maps_list)
    assert len(ours) == len(ref) == maps_list[0].num_layers * maps_list[0].num_heads
    pd.testing.assert_frame_equal(ours[ref.columns], ref, check_dtype=False, atol=1e-6, rtol=0)


def test_word_level_maps():
    maps = attnbook.attend("Unbelievably, the tokenizer splits words.")
    words = maps.to_words()
    assert words.num_tokens < maps.num_tokens  # some word was split into pieces
    stats = head_statistics(words)
    np.testing.assert_allclose(
        stats[["to_cls", "to_sep", "to_punct", "to_other"]].sum(axis=1), 1.0, atol=1e-5
    )
    assert stats["n_queries"][0] == words.num_tokens
    # Clark et al.'s rule by hand: a word's row is the mean of its pieces' rows; [CLS] stays alone.
    groups = {}
    for position, word in enumerate(maps.word_ids):
        groups.setdefault(("special", position) if word is None else word, []).append(position)
    cls = maps.tokens.index("[CLS]")
    per_word = [maps.attentions[..., rows, cls].mean(-1) for rows in groups.values()]  # [L, H] each
    expected = torch.stack(per_word).mean(0).flatten()
    assert len(groups) == words.num_tokens
    np.testing.assert_allclose(stats.to_cls, expected.numpy(), atol=1e-6)
