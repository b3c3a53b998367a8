"""Loading encoder-decoders: load_model(encoder_decoder=True) and the tiny seq2seq models.

The tiny models are built locally (tests/tiny_models.py); the checks are
against transformers' own configs and tokenizers.
"""

from __future__ import annotations

import pytest
import transformers
from tiny_models import SEQ2SEQ, build, build_decoder, build_seq2seq

import attnbook
from attnbook.errors import EncoderDecoderModelError, NotEncoderDecoderModelError
from attnbook.models import load_model

# How each family marks a text (the tokens around "dog"), from its tokenizer.
FORMAT = {
    "bart": (["<s>"], ["</s>"]),
    "marian": ([], ["</s>"]),
    "t5": ([], ["</s>"]),
    "mbart": ([], ["</s>", "en_XX"]),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    transformers.utils.logging.disable_progress_bar()
    root = tmp_path_factory.mktemp("seq2seq-models")
    return {family: build_seq2seq(family, root) for family in SEQ2SEQ}


@pytest.mark.parametrize("family", SEQ2SEQ)
def test_tiny_models_are_encoder_decoders_of_their_family(models, family):
    tokenizer, model = load_model(str(models[family]), encoder_decoder=True)
    assert model.config.is_encoder_decoder and model.config.model_type == family
    assert model.config._attn_implementation == "eager" and not model.training
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("dog")["input_ids"])
    before, after = FORMAT[family]
    assert tokens[: len(before)] == before and tokens[len(tokens) - len(after) :] == after
    # The same objects as any other load of that directory.
    assert load_model(str(models[family]), encoder_decoder=True)[1] is model


def test_encoder_or_decoder_only_is_refused_when_an_encoder_decoder_is_asked_for(tmp_path):
    for path, kind in (
        (build("bert", tmp_path), "an encoder"),
        (build_decoder("gpt2", tmp_path), "a decoder"),
    ):
        with pytest.raises(NotEncoderDecoderModelError, match=kind):
            load_model(str(path), encoder_decoder=True)
        # Cached all the same: the plain load (what attend() does) still works.
        assert load_model(str(path))[1].config.is_encoder_decoder is False
        with pytest.raises(NotEncoderDecoderModelError):
            load_model(str(path), encoder_decoder=True)  # the cached copy is checked too
    assert issubclass(NotEncoderDecoderModelError, attnbook.UnsupportedModelError)
    assert issubclass(NotEncoderDecoderModelError, ValueError)


def test_an_encoder_decoder_is_still_refused_by_the_plain_load(models):
    path = str(models["t5"])
    load_model(path, encoder_decoder=True)
    with pytest.raises(EncoderDecoderModelError, match="attend_seq2seq"):
        load_model(path)
    tokenizer, model = load_model(path, encoder_decoder=True)
    with pytest.raises(EncoderDecoderModelError):
        load_model((tokenizer, model))
    assert load_model((tokenizer, model), encoder_decoder=True)[1] is model
