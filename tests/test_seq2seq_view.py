"""An encoder-decoder's maps in the views (payload parts), the cross heatmap and BertViz.

The maps are built by hand (tests/synthetic_maps.py) with different source and
target lengths, split words on both sides and markup in the tokens; the
references are the maps' own tensors and view.js's decoder run by Node.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from synthetic_maps import synthetic_seq2seq
from test_view import MAX_ERROR, js_decode_parts

import attnbook
from attnbook.plot import cross_heatmap, language
from attnbook.view import ViewInputError, build_payload, decode_payload, head_view, model_view

XSS = "</script><img src=x onerror=alert(1)>"
SOURCE = ["<s>", "the", "dog", "chas", "##ed", XSS, "cat", "</s>"]
TARGET = ["</s>", "<s>", "犬", "が", "猫", "を", "追", "##う"]


@pytest.fixture(scope="module")
def maps():
    return synthetic_seq2seq(SOURCE, TARGET, encoder_layers=2, decoder_layers=3, heads=2, seed=3)


def test_payload_has_three_parts_with_their_own_axes(maps):
    payload = build_payload(maps)
    parts = {p["name"]: p for p in payload["parts"]}
    assert list(parts) == ["encoder", "decoder", "cross"]
    assert (parts["encoder"]["layers"], parts["cross"]["layers"]) == (2, 3)
    assert parts["decoder"]["causal"] and not parts["cross"]["causal"]
    token, word = parts["cross"]["levels"]
    assert (token["nq"], token["nk"]) == (len(TARGET), len(SOURCE))
    assert token["query"]["tokens"] == TARGET and token["key"]["tokens"] == SOURCE
    assert word["query"]["tokens"] == maps.to_words().target_tokens
    assert word["key"]["tokens"] == maps.to_words().source_tokens
    assert parts["decoder"]["levels"][0]["layout"] == "tril"
    assert parts["encoder"]["levels"][0]["key"] is None  # self-attention: keys are the queries
    back = decode_payload(payload)
    words = maps.to_words()
    for name in ("encoder", "decoder", "cross"):
        for level, want in (("token", getattr(maps, name)), ("word", getattr(words, name))):
            got = torch.from_numpy(back[name][level])
            assert got.shape == want.attentions.shape
            assert (got - want.attentions).abs().max().item() <= MAX_ERROR + 1e-7, (name, level)
    assert (np.triu(back["decoder"]["token"], 1) == 0).all()


def test_browser_decoder_reads_every_part(maps):
    payload = build_payload(maps, top_k=3)  # topk on a non-square part too
    tokens, js = js_decode_parts(payload)
    back = decode_payload(payload)
    assert tokens["cross/token"] == [TARGET, SOURCE]
    assert tokens["decoder/word"][0] == tokens["decoder/word"][1]
    for name, parts in back.items():
        for level, want in parts.items():
            assert np.array_equal(js[f"{name}/{level}"], want), (name, level)
    assert ((back["cross"]["token"] > 0).sum(-1) <= 3).all()


def test_size_per_token_pair_is_that_of_a_self_attention_view(maps):
    # The budget of today's views: at most one stored byte per query-key pair of each head
    # (dense), half of that for a causal part; compressed, the HTML stays small.
    n_pairs = sum(
        p.num_layers * p.num_heads * p.attentions.shape[-2] * p.attentions.shape[-1]
        for p in (maps.encoder, maps.decoder, maps.cross)
    )
    view = head_view(maps, words=False)
    data = len(json.dumps(view.payload["data"]))
    assert data <= 1.4 * n_pairs  # base64 of (at most) one byte per pair, compressed
    assert len(view) < 100_000


def test_views_start_on_the_cross_part_and_check_ids_per_part(maps):
    view = head_view(maps, layer=2, head=1)
    assert view.payload["view"]["part"] == "cross"
    assert model_view(maps, part="encoder", layer=1).payload["view"]["part"] == "encoder"
    with pytest.raises(ViewInputError, match="layer 2 is out of range"):
        head_view(maps, part="encoder", layer=2)  # the encoder has 2 layers, the decoder 3
    with pytest.raises(ViewInputError, match="part must be one of"):
        head_view(maps, part="self")
    html = view.html
    assert "<img" not in html and html.count("</script>") == 2


def test_cross_heatmap_rows_are_target_columns_source(maps):
    fig = cross_heatmap(maps, 1, 0)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == SOURCE
    assert [t.get_text() for t in ax.get_yticklabels()] == TARGET
    shown = ax.images[0].get_array()
    assert np.allclose(np.asarray(shown), maps.cross.attentions[1, 0].numpy(), atol=1e-6)
    assert ax.get_xlabel() == "source token (key)" and ax.get_ylabel() == "target token (query)"
    assert "cross-attention, layer 1, head 0 (0-indexed)" in ax.get_title()
    assert len(fig.axes) == 2  # the colour bar
    words = cross_heatmap(maps, -1, -1, words=True, title="")
    wax = words.axes[0]
    assert [t.get_text() for t in wax.get_xticklabels()] == maps.to_words().source_tokens
    assert "chased" in [t.get_text() for t in wax.get_xticklabels()]
    assert wax.get_title() == "" and wax.get_xlabel() == "source word (key)"
    with language("ja"):
        ja = cross_heatmap(maps, 0, 1).axes[0]
    assert ja.get_xlabel() == "入力側のトークン（キー）"
    assert ja.get_ylabel() == "出力側のトークン（クエリ）"
    assert "クロスアテンション" in ja.get_title()
    assert not re.search(r"[A-Za-z]{3,}", ja.get_title().replace("synthetic", ""))
    # The English figure translated afterwards (as the book's Japanese edition does it).
    from attnbook.plot import translate, untranslated

    assert untranslated(translate(cross_heatmap(maps, 0, 0, words=True), "ja")) == []
    with pytest.raises(attnbook.LayerOutOfRangeError):
        cross_heatmap(maps, 3, 0)
    with pytest.raises(attnbook.plot.PlotInputError, match="Seq2SeqMaps"):
        cross_heatmap(maps.cross, 0, 0)


def test_to_bertviz_of_hand_built_maps(maps):
    kw = maps.to_words().to_bertviz()
    assert kw["encoder_tokens"] == maps.to_words().source_tokens
    assert len(kw["encoder_attention"]) == 2 and len(kw["cross_attention"]) == 3
    assert kw["cross_attention"][0].shape == (
        1,
        2,
        len(kw["decoder_tokens"]),
        len(kw["encoder_tokens"]),
    )
    with pytest.raises(ViewInputError, match="Seq2SeqMaps"):
        attnbook.view.seq2seq_to_bertviz(maps.cross)
