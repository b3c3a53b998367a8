"""AttentionMaps with a query axis and a key axis: Q != K, per-axis pooling, roles, visibility."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import attnbook
from attnbook.analysis import (
    HEAD_STATISTICS_COLUMNS,
    POSITIONAL_COLUMNS,
    head_statistics,
    layer_summary,
)
from attnbook.errors import AnalysisInputError, AxesDifferError, MapsShapeError, NoPositionsError
from attnbook.maps import AttentionMaps, Segments, TokenAxis
from attnbook.maps.encode import special_roles

# Queries: a target sentence "<s> Hund bellt" where "bellt" is split "bel ##lt".
QUERY = TokenAxis(["<s>", "Hund", "bel", "##lt"], [None, 0, 1, 1], ["Hund", "bellt"], [1, 0, 0, 0])
# Keys: a source sentence "[CLS] the dog barks [SEP]" where "barks" is "bark ##s".
KEY = TokenAxis(
    ["[CLS]", "the", "dog", "bark", "##s", "[SEP]"],
    [None, 0, 1, 2, 2, None],
    ["the", "dog", "barks"],
    [1, 0, 0, 0, 0, 1],
)


def cross_weights(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, len(QUERY), len(KEY), generator=g).softmax(-1)  # [L, H, Q, K]


def cross_maps(**kw) -> AttentionMaps:
    return AttentionMaps(attentions=cross_weights(), query=QUERY, key=KEY, model_id="hand", **kw)


def test_non_square_maps_are_accepted_with_their_own_axes():
    maps = cross_maps()
    assert (maps.num_queries, maps.num_keys) == (4, 6)
    assert not maps.is_self_attention
    assert maps.query_tokens == QUERY.tokens and maps.key_tokens == KEY.tokens
    assert maps.head(-1, 2).shape == (4, 6)
    frame = maps.to_dataframe(1, 0)
    assert list(frame.index) == QUERY.tokens and list(frame.columns) == KEY.tokens
    torch.testing.assert_close(torch.tensor(frame.values), cross_weights()[1, 0])
    assert "query_tokens" in repr(maps)


@pytest.mark.parametrize("name", ["tokens", "words", "word_ids", "special", "num_tokens"])
def test_one_axis_names_refuse_maps_whose_axes_differ(name):
    with pytest.raises(AxesDifferError, match="query_tokens|query_") as info:
        getattr(cross_maps(), name)
    assert isinstance(info.value, (attnbook.AttnbookError, ValueError))


def test_pooling_is_per_axis_against_a_hand_computed_reference():
    a = cross_weights(3)
    words = AttentionMaps(attentions=a, query=QUERY, key=KEY, model_id="hand").to_words()
    assert words.query_tokens == ["<s>", "Hund", "bellt"]
    assert words.key_tokens == ["[CLS]", "the", "dog", "barks", "[SEP]"]
    # By hand: a query word's row is the mean of its pieces' rows (queries 2, 3 -> "bellt");
    # a key word's column is the sum of its pieces' columns (keys 3, 4 -> "barks").
    expected = torch.zeros(2, 3, 3, 5)
    rows = [[0], [1], [2, 3]]
    cols = [[0], [1], [2], [3, 4], [5]]
    for u, r in enumerate(rows):
        for v, c in enumerate(cols):
            expected[:, :, u, v] = a[:, :, r][:, :, :, c].sum(-1).mean(-1)
    torch.testing.assert_close(words.attentions, expected)
    torch.testing.assert_close(words.attentions.sum(-1), torch.ones(2, 3, 3))
    assert words.query.roles == ["cls", None, None] and words.key.roles[-1] == "sep"
    assert words.query.word_ids == [None, 0, 1] and words.key.word_ids == [None, 0, 1, 2, None]


def test_word_lookup_uses_the_right_axis():
    maps = cross_maps()
    assert maps.token_index("bellt") == [2, 3]
    assert maps.token_index("barks", axis="key") == [3, 4]
    top = maps.query_to_keys("bellt", ["barks", "dog"])
    a = cross_weights()
    expected = a[:, :, [2, 3]][..., [3, 4]].sum(-1).mean(-1).flatten()
    torch.testing.assert_close(torch.tensor(top["barks"].values), expected)


def test_sizes_are_checked_per_axis_when_built():
    with pytest.raises(MapsShapeError, match="key_tokens"):
        AttentionMaps(attentions=cross_weights()[..., :5], query=QUERY, key=KEY, model_id="x")
    with pytest.raises(MapsShapeError, match="query_tokens"):
        AttentionMaps(attentions=cross_weights()[..., :3, :], query=QUERY, key=KEY, model_id="x")
    with pytest.raises(MapsShapeError, match="query=TokenAxis"):  # one axis, Q != K
        AttentionMaps(attentions=cross_weights(), query=QUERY, model_id="x")
    with pytest.raises(MapsShapeError, match="not both"):
        AttentionMaps(attentions=cross_weights(), query=QUERY, key=KEY, tokens=["a"], model_id="x")


def test_identical_axes_are_one_shared_axis():
    axis = TokenAxis(["[CLS]", "a", "[SEP]"], [None, 0, None], ["a"], [1, 0, 1])
    copy = TokenAxis(list(axis.tokens), list(axis.word_ids), list(axis.words), axis.special.clone())
    maps = AttentionMaps(
        attentions=torch.full((1, 1, 3, 3), 1 / 3), query=axis, key=copy, model_id="x"
    )
    assert maps.is_self_attention and maps.tokens == ["[CLS]", "a", "[SEP]"]


def test_roles_come_from_the_tokenizers_ids_not_the_spelling():
    # A tokenizer whose classification token is spelled "<go>" and whose separator is "<end>".
    tokenizer = SimpleNamespace(cls_token_id=7, sep_token_id=8, pad_token_id=0, bos_token_id=7)
    roles = special_roles(tokenizer, [7, 3, 8, 0, 9], [True, False, True, True, True])
    assert roles == ["cls", None, "sep", "pad", "special"]
    maps = attnbook.attend("The dog barks.", pair="It is loud.")
    assert maps.roles == ["cls"] + [None] * 5 + ["sep"] + [None] * 4 + ["sep"]


def test_sentence_pairs_live_on_segments():
    maps = attnbook.attend("The dog barks.", pair="It is loud.")
    assert isinstance(maps.segments, Segments)
    assert maps.segments.pair == maps.pair == "It is loud."
    assert maps.segments.sep_positions == maps.sep_positions == [6, 11]
    words = maps.to_words()
    assert words.segments.segment_ids == words.segment_ids
    assert len(words.segment_ids) == words.num_tokens


def test_a_causal_block_of_queries_sees_the_keys_up_to_its_own_position():
    q, k = 2, 5
    visible = torch.ones(q, k).tril(diagonal=k - q)  # query i is position k - q + i

    def axis(n):
        names = [f"t{i}" for i in range(n)]
        return TokenAxis(names, list(range(n)), names, [0] * n)

    uniform = (visible.double() / visible.sum(-1, keepdim=True))[None, None]
    maps = AttentionMaps(attentions=uniform, query=axis(q), key=axis(k), model_id="x", causal=True)
    assert torch.equal(maps.visible_keys(), visible.bool())
    stats = head_statistics(maps)
    # Uniform over its visible keys (4 and 5 of them): the entropy of uniform attention.
    assert stats.entropy[0] == pytest.approx((math.log(4) + math.log(5)) / 2, abs=1e-12)
    assert stats.uniform_entropy[0] == pytest.approx(stats.entropy[0], abs=1e-12)
    assert stats.prev[0] == pytest.approx(1 / 4 * 0.5 + 1 / 5 * 0.5)  # key k-q-1+i for query i
    ahead = uniform.clone()
    ahead[..., 0, -1] = 0.1
    with pytest.raises(MapsShapeError, match="causal"):
        AttentionMaps(attentions=ahead, query=axis(q), key=axis(k), model_id="x", causal=True)


def test_cross_maps_statistics_leave_out_positions():
    # Target position i and source position j are in two sentences: no |i - j|, no neighbours.
    maps = cross_maps()
    stats = head_statistics(maps)
    assert list(stats.columns) == [
        c for c in HEAD_STATISTICS_COLUMNS if c not in ("mean_distance", "prev", "next")
    ]
    assert set(POSITIONAL_COLUMNS) == {"mean_distance", "prev", "next"}
    # The rest is measured as for any map, over the key (source) axis: its [CLS] is key 0,
    # its [SEP] key 5 (the query axis' "<s>" at 0 plays no part).
    a = cross_weights().double()  # [L, H, Q, K]
    assert stats.to_cls.tolist() == pytest.approx(a[..., 0].mean(-1).flatten().tolist())
    assert stats.to_sep.tolist() == pytest.approx(a[..., 5].mean(-1).flatten().tolist())
    shares = stats[["to_cls", "to_sep", "to_punct", "to_other"]].sum(axis=1)
    assert shares.tolist() == pytest.approx([1.0] * 6)
    assert stats.uniform_entropy[0] == pytest.approx(math.log(len(KEY)))
    assert stats.notna().all().all() and (stats.n_queries == len(QUERY)).all()
    assert list(layer_summary(stats).columns)[-1] == "uniform_entropy"
    # Asked for explicitly: a typed error that says why.
    with pytest.raises(NoPositionsError, match="two texts|another's"):
        head_statistics(maps, positions=True)
    assert issubclass(NoPositionsError, AnalysisInputError)
    assert list(head_statistics(maps, positions=False).columns) == list(stats.columns)


def test_statistics_do_not_mix_cross_and_self_attention():
    enc_weights = torch.randn(2, 3, len(KEY), len(KEY), generator=torch.Generator().manual_seed(1))
    encoder = AttentionMaps(attentions=enc_weights.softmax(-1), query=KEY, key=KEY, model_id="h")
    with pytest.raises(AnalysisInputError, match="separately"):
        head_statistics([encoder, cross_maps()])
    # Self-attention keeps its positions by default; positions=False drops them.
    assert set(POSITIONAL_COLUMNS) <= set(head_statistics(encoder).columns)
    assert not set(POSITIONAL_COLUMNS) & set(head_statistics(encoder, positions=False).columns)
    with pytest.raises(AnalysisInputError, match="positions must be"):
        head_statistics(encoder, positions="yes")
