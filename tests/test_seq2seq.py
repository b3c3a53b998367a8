"""Encoder-decoders through attend_seq2seq(): BART, Marian, T5 and mBART.

Every tiny model is built and saved locally (tests/tiny_models.py). The
reference is plain transformers: the family's ``...ForConditionalGeneration``
given the target as ``labels``, so transformers itself shifts the target right
to make the decoder's input, independent of attnbook.
"""

from __future__ import annotations

import pytest
import torch
import transformers
from tiny_models import SEQ2SEQ, build, build_decoder, build_seq2seq

import attnbook
from attnbook.errors import (
    EmptyTextError,
    EncoderDecoderModelError,
    InvalidOptionError,
    MapsShapeError,
    NotEncoderDecoderModelError,
    NotTextError,
    TextTooLongError,
)
from attnbook.seq2seq import Seq2SeqMaps, attend_seq2seq

SOURCE = "The dog chased the cat."
TARGET = "Der Hund jagte die Katze."

# The decoder's first input token, by each family's own rule.
START = {"bart": "</s>", "marian": "<pad>", "t5": "<pad>", "mbart": "de_DE"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    transformers.utils.logging.disable_progress_bar()
    root = tmp_path_factory.mktemp("seq2seq")
    return {family: build_seq2seq(family, root) for family in SEQ2SEQ}


def _reference(path, source, target, **kw):
    """(encoder, decoder, cross) ``[L, H, Q, K]`` and the decoder input ids, from transformers."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(
        path, local_files_only=True, attn_implementation="eager"
    ).eval()
    enc = tokenizer(source, text_target=target, return_tensors="pt", **kw)
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    stack = [
        torch.cat(a) for a in (out.encoder_attentions, out.decoder_attentions, out.cross_attentions)
    ]
    decoder_ids = model.prepare_decoder_input_ids_from_labels(enc["labels"])
    return stack, tokenizer.convert_ids_to_tokens(decoder_ids[0]), enc


@pytest.mark.parametrize("family", SEQ2SEQ)
def test_three_attentions_equal_transformers(models, family):
    maps = attend_seq2seq(SOURCE, TARGET, model=str(models[family]))
    (enc, dec, cross), decoder_tokens, inputs = _reference(models[family], SOURCE, TARGET)
    for mine, theirs in ((maps.encoder, enc), (maps.decoder, dec), (maps.cross, cross)):
        assert mine.attentions.shape == theirs.shape
        assert (mine.attentions - theirs).abs().max().item() <= 1e-6
    tokenizer = transformers.AutoTokenizer.from_pretrained(models[family])
    assert maps.source_tokens == tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    # Teacher forcing: the start token, then the target shifted right (its last token dropped).
    assert maps.target_tokens == decoder_tokens
    assert maps.target_tokens[0] == START[family]
    labels = tokenizer.convert_ids_to_tokens(inputs["labels"][0])
    assert maps.target_tokens[1:] == labels[:-1]
    # Cross-attention: rows are the decoder's tokens, columns the source's.
    T, S = len(maps.target_tokens), len(maps.source_tokens)
    assert maps.cross.attentions.shape[-2:] == (T, S)
    assert maps.cross.query_tokens == maps.target_tokens
    assert maps.cross.key_tokens == maps.source_tokens
    assert maps.decoder.causal and not maps.encoder.causal and not maps.cross.causal
    assert torch.allclose(maps.cross.attentions.sum(-1), torch.ones(()), atol=1e-5)
    assert maps.decoder.special[0] and maps.source == SOURCE and maps.target == TARGET


def test_encoder_and_decoder_sizes_come_from_their_own_stacks(models):
    config = transformers.AutoConfig.from_pretrained(models["marian"])
    maps = attend_seq2seq(SOURCE, TARGET, model=str(models["marian"]))
    assert (maps.encoder.num_layers, maps.encoder.num_heads) == (
        config.encoder_layers,
        config.encoder_attention_heads,
    )
    assert (maps.cross.num_layers, maps.cross.num_heads) == (
        config.decoder_layers,
        config.decoder_attention_heads,
    )
    assert config.encoder_attention_heads != config.decoder_attention_heads


def test_words_on_both_sides_of_the_cross_map(models):
    maps = attend_seq2seq(SOURCE, TARGET, model=str(models["bart"]))
    words = maps.to_words()
    assert words.level == "word" and words.cross.level == "word"
    assert words.cross.query_tokens == ["</s>", "<s>", "Der", "Hund", "jagte", "die", "Katze", "."]
    assert words.cross.key_tokens == ["<s>", "The", "dog", "chased", "the", "cat", ".", "</s>"]
    assert words.cross.query_tokens == words.target_tokens
    assert words.cross.key_tokens == words.source_tokens
    # Clark et al.'s rule by hand: mean over the query word's pieces, sum over the key's.
    rows = maps.cross.token_index("Hund")
    cols = maps.cross.token_index("chased", axis="key")
    assert len(rows) > 1 and len(cols) > 1  # both words are split
    by_hand = maps.cross.attentions[:, :, rows][..., cols].sum(-1).mean(-1)  # [L, H]
    r = words.cross.query_tokens.index("Hund")
    c = words.cross.key_tokens.index("chased")
    assert torch.allclose(words.cross.attentions[:, :, r, c], by_hand, atol=1e-6)
    assert torch.allclose(words.cross.attentions.sum(-1), torch.ones(()), atol=1e-5)
    assert words.decoder.causal
    assert bool((torch.triu(words.decoder.attentions, diagonal=1) == 0).all())


def test_top_heads_ranks_cross_heads_target_word_to_source_words(models):
    maps = attend_seq2seq(SOURCE, TARGET, model=str(models["mbart"])).to_words()
    top = maps.top_heads("Hund", ["dog", "cat."], k=3)
    assert list(top.columns) == ["layer", "head", "dog", "cat.", "weight"]
    r = maps.cross.query_tokens.index("Hund")
    cols = [maps.cross.key_tokens.index(w) for w in ("dog", "cat.")]
    total = maps.cross.attentions[:, :, r, cols].sum(-1).reshape(-1)  # [L * H]
    best = torch.sort(total, descending=True, stable=True)
    assert top["weight"].tolist() == pytest.approx(best.values[:3].tolist(), abs=1e-6)
    heads = maps.cross.num_heads
    assert [(la * heads + h) for la, h in zip(top["layer"], top["head"], strict=True)] == (
        best.indices[:3].tolist()
    )
    with pytest.raises(attnbook.WordNotFoundError):
        maps.top_heads("dog", "Hund")  # the query is a target word, the keys source words


def test_model_resolution_env_var_and_loaded_pair(models, monkeypatch):
    path = str(models["t5"])
    want = attend_seq2seq(SOURCE, TARGET, model=path).cross.attentions
    monkeypatch.setenv("ATTNBOOK_MODEL", path)
    assert torch.equal(attend_seq2seq(SOURCE, TARGET).cross.attentions, want)
    monkeypatch.delenv("ATTNBOOK_MODEL")
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(path)  # SDPA: switched to eager
    maps = attend_seq2seq(SOURCE, TARGET, model=(tokenizer, model))
    assert (maps.cross.attentions - want).abs().max().item() <= 1e-6


@pytest.mark.parametrize(
    ("source", "target", "error", "what"),
    [
        ("", TARGET, EmptyTextError, "source"),
        ("   \n", TARGET, EmptyTextError, "source"),
        (SOURCE, "", EmptyTextError, "target"),
        (SOURCE, " \t", EmptyTextError, "target"),
        (SOURCE, ["Der Hund."], NotTextError, "target"),
    ],
)
def test_bad_texts(models, source, target, error, what):
    with pytest.raises(error, match=what):
        attend_seq2seq(source, target, model=str(models["bart"]))


def test_encoder_or_decoder_only_models_are_refused(tmp_path):
    for path in (build("bert", tmp_path), build_decoder("gpt2", tmp_path)):
        with pytest.raises(NotEncoderDecoderModelError, match="attend\\(\\)") as info:
            attend_seq2seq(SOURCE, TARGET, model=str(path))
        assert isinstance(info.value, attnbook.UnsupportedModelError)
    # The model was cached by the failed call; attend() still reads it.
    assert attnbook.attend(SOURCE, model=str(path)).causal


def test_attend_points_an_encoder_decoder_to_attend_seq2seq(models):
    with pytest.raises(EncoderDecoderModelError, match="attend_seq2seq"):
        attnbook.attend(SOURCE, model=str(models["marian"]))
    # ... and the refused model still works where it belongs.
    assert attend_seq2seq(SOURCE, TARGET, model=str(models["marian"])).cross.num_heads == 4


def test_too_long_texts_and_truncation(models):
    path = str(models["marian"])
    long = " ".join(["dog"] * 80)  # 81 tokens with </s>; the tiny model takes 64
    with pytest.raises(TextTooLongError, match="the source is 81 tokens") as info:
        attend_seq2seq(long, TARGET, model=path)
    assert (info.value.num_tokens, info.value.limit) == (81, 64)
    with pytest.raises(TextTooLongError, match="the target"):
        attend_seq2seq(SOURCE, long, model=path)
    maps = attend_seq2seq(long, long, model=path, truncation=True)
    assert len(maps.source_tokens) == 64 and len(maps.target_tokens) == 64
    (enc, dec, cross), decoder_tokens, _ = _reference(
        path, long, long, truncation=True, max_length=64
    )
    assert maps.target_tokens == decoder_tokens
    for mine, theirs in ((maps.encoder, enc), (maps.decoder, dec), (maps.cross, cross)):
        assert (mine.attentions - theirs).abs().max().item() <= 1e-6
    short = attend_seq2seq(SOURCE, TARGET, model=path, max_length=6, truncation=True)
    assert len(short.source_tokens) == 6 and short.source_tokens[-1] == "</s>"
    with pytest.raises(InvalidOptionError, match="max_length"):
        attend_seq2seq(SOURCE, TARGET, model=path, max_length=0)


def test_hand_built_maps_are_checked(models):
    maps = attend_seq2seq(SOURCE, TARGET, model=str(models["bart"]))
    other = attend_seq2seq(SOURCE, "Ein Hund.", model=str(models["bart"]))
    # The cross map's rows must be the decoder's tokens, its columns the encoder's.
    with pytest.raises(MapsShapeError, match="cross.query"):
        Seq2SeqMaps(maps.encoder, maps.decoder, other.cross)
    with pytest.raises(MapsShapeError, match="cross.key"):
        Seq2SeqMaps(other.decoder.replace(causal=False), maps.decoder, maps.cross)
    bidirectional = maps.decoder.replace(causal=False)
    with pytest.raises(MapsShapeError, match="causal"):
        Seq2SeqMaps(maps.encoder, bidirectional, maps.cross)
    with pytest.raises(MapsShapeError, match="same level"):
        Seq2SeqMaps(maps.encoder, maps.decoder.to_words(), maps.cross)
    again = Seq2SeqMaps(maps.encoder, maps.decoder, maps.cross)
    assert again.model_id == maps.model_id and "Seq2SeqMaps(" in repr(again)


def test_to_bertviz_gives_what_bertviz_head_view_takes(models):
    maps = attend_seq2seq(SOURCE, TARGET, model=str(models["t5"]))
    kw = maps.to_bertviz()
    assert set(kw) == {
        "encoder_attention",
        "decoder_attention",
        "cross_attention",
        "encoder_tokens",
        "decoder_tokens",
    }
    assert kw["encoder_tokens"] == maps.source_tokens
    assert kw["decoder_tokens"] == maps.target_tokens
    # BertViz takes one [1, H, Q, K] tensor per layer (batch of one), squeezes and stacks them,
    # and draws the cross map with the decoder tokens on the left, the encoder tokens on the right.
    for name, part in (("encoder", maps.encoder), ("decoder", maps.decoder), ("cross", maps.cross)):
        layers = kw[f"{name}_attention"]
        assert isinstance(layers, tuple) and len(layers) == part.num_layers
        assert all(a.dim() == 4 and a.shape[0] == 1 for a in layers)
        assert torch.equal(torch.stack([a.squeeze(0) for a in layers]), part.attentions)
    cross = torch.stack([a.squeeze(0) for a in kw["cross_attention"]])
    assert cross.shape[-2] == len(kw["decoder_tokens"])
    assert cross.shape[-1] == len(kw["encoder_tokens"])
