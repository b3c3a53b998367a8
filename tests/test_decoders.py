"""Decoder-only models through attend(): GPT-2, GPT-NeoX and a grouped-query Llama.

Every tiny model is built and saved locally (tests/tiny_models.py); the
reference is plain transformers, independent of attnbook.
"""

from __future__ import annotations

import math

import pytest
import torch
import transformers
from tiny_models import DECODERS, build_decoder, build_encoder_decoder, reference_attentions

import attnbook
from attnbook.analysis import head_statistics, visible_keys
from attnbook.errors import EncoderDecoderModelError, InvalidOptionError, MapsShapeError

TEXTS = ["The dog chased the cat.", "Attention is unbelievably simple, it is!"]


@pytest.fixture(scope="module")
def decoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoders")
    return {family: build_decoder(family, root) for family in DECODERS}


@pytest.mark.parametrize("family", DECODERS)
@pytest.mark.parametrize("text", TEXTS)
def test_attend_equals_transformers(decoders, family, text):
    maps = attnbook.attend(text, model=str(decoders[family]))
    ref = reference_attentions(decoders[family], text)
    assert maps.causal is True
    assert maps.attentions.shape == ref.shape
    assert (maps.attentions - ref).abs().max().item() <= 1e-6
    upper = torch.triu(maps.attentions, diagonal=1)
    assert bool((upper == 0).all()), "a causal query must give exactly 0 to later keys"
    assert torch.allclose(maps.attentions.sum(-1), torch.ones(()), atol=1e-5)


def test_grouped_query_llama_has_a_map_per_query_head(decoders):
    config = transformers.AutoConfig.from_pretrained(decoders["llama"])
    assert config.num_key_value_heads < config.num_attention_heads
    maps = attnbook.attend(TEXTS[0], model=str(decoders["llama"]))
    assert maps.num_heads == config.num_attention_heads


def test_loaded_pair_of_a_decoder(decoders):
    tokenizer = transformers.AutoTokenizer.from_pretrained(decoders["gpt2"])
    model = transformers.AutoModel.from_pretrained(decoders["gpt2"], attn_implementation="eager")
    maps = attnbook.attend(TEXTS[1], model=(tokenizer, model))
    ref = reference_attentions(decoders["gpt2"], TEXTS[1])
    assert maps.causal and (maps.attentions - ref).abs().max().item() <= 1e-6


def test_encoder_maps_stay_bidirectional():
    maps = attnbook.attend("The dog chased the cat.")
    assert maps.causal is False
    assert torch.triu(maps.attentions, diagonal=1).abs().sum() > 0


def test_decoder_rejects_a_sentence_pair(decoders):
    with pytest.raises(InvalidOptionError, match="one text"):
        attnbook.attend("The dog barks.", model=str(decoders["gpt2"]), pair="It is loud.")


def test_encoder_decoder_is_refused_with_a_pointer(tmp_path):
    path = build_encoder_decoder(tmp_path)
    with pytest.raises(EncoderDecoderModelError, match="encoder-decoder"):
        attnbook.attend("The dog barks.", model=str(path))
    assert issubclass(EncoderDecoderModelError, attnbook.UnsupportedModelError)


def test_words_of_a_causal_map_stay_causal(decoders):
    maps = attnbook.attend("Attention is unbelievably simple.", model=str(decoders["gpt_neox"]))
    words = maps.to_words()
    assert words.num_tokens < maps.num_tokens  # some words were split into pieces
    assert words.causal
    assert bool((torch.triu(words.attentions, diagonal=1) == 0).all())
    assert torch.allclose(words.attentions.sum(-1), torch.ones(()), atol=1e-5)


def test_top_heads_on_a_decoder_only_counts_earlier_keys(decoders):
    maps = attnbook.attend(TEXTS[0], model=str(decoders["gpt2"]))
    # "dog" comes before "chased": some weight; "cat" comes after: none.
    top = maps.top_heads("chased", ["dog", "cat"], k=maps.num_layers * maps.num_heads)
    assert (top["cat"] == 0).all()
    assert (top["dog"] > 0).all()


def _causal_maps(weights: torch.Tensor) -> attnbook.AttentionMaps:
    t = weights.shape[-1]
    return attnbook.AttentionMaps(
        tokens=[f"t{i}" for i in range(t)],
        word_ids=list(range(t)),
        words=[f"t{i}" for i in range(t)],
        special=torch.zeros(t, dtype=torch.bool),
        attentions=weights,
        model_id="hand-made",
        segment_ids=[0] * t,
        text="",
        causal=True,
    )


def test_uniform_over_visible_keys_has_the_uniform_entropy():
    t = 5
    uniform = torch.ones(t, t).tril()
    uniform = uniform / uniform.sum(-1, keepdim=True)
    stats = head_statistics(_causal_maps(uniform[None, None]))
    expected = sum(math.log(i + 1) for i in range(t)) / t
    assert stats.loc[0, "uniform_entropy"] == pytest.approx(expected, abs=1e-12)
    assert stats.loc[0, "entropy"] == pytest.approx(expected, abs=1e-7)  # float32 weights
    # Over all t keys, as for an encoder, this head would have looked focused.
    assert expected < math.log(t) - 0.5
    assert math.isnan(stats.loc[0, "next"])


def test_a_causal_previous_token_head_is_focused():
    t = 6
    prev = torch.zeros(t, t)
    prev[0, 0] = 1.0
    prev[torch.arange(1, t), torch.arange(0, t - 1)] = 1.0
    stats = head_statistics(_causal_maps(prev[None, None]))
    assert stats.loc[0, "prev"] == pytest.approx(1.0)
    assert stats.loc[0, "entropy"] < 0.01 < stats.loc[0, "uniform_entropy"]


def test_visible_keys_of_bidirectional_maps_is_none():
    assert visible_keys(attnbook.attend("The dog barks.")) is None


def test_causal_maps_with_weight_above_the_diagonal_are_refused():
    weights = torch.full((1, 1, 3, 3), 1 / 3)
    with pytest.raises(MapsShapeError, match="above the diagonal"):
        _causal_maps(weights)
