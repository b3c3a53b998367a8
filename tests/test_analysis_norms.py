"""Norm-based attention (Kobayashi et al. 2020) against the model itself and against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import attnbook
from attnbook.analysis import (
    attention_norms,
    attention_norms_from_inputs,
    bert_attention_modules,
    head_statistics,
    transformed_vectors,
)
from attnbook.errors import AnalysisInputError, NoAttentionError, UnsupportedModelError


@pytest.fixture(scope="module")
def pair():
    return attnbook.load_model()


def encode(tokenizer, text):
    return tokenizer(text, return_tensors="pt")


def test_heads_sum_to_the_attention_sublayer_output(pair):
    """Σ_h Σ_j α^h_ij f_h(x_j) + b_O is what the output dense layer produces, in every layer."""
    tokenizer, model = pair
    inputs = encode(tokenizer, "The old lighthouse keeper counted the gulls, twice.")
    layers = bert_attention_modules(model)
    dense_out, layer_in = {}, {}
    hooks = []
    for i, modules in enumerate(layers):
        hooks.append(
            modules["dense"].register_forward_hook(
                lambda m, a, out, i=i: dense_out.__setitem__(i, out.detach()[0])
            )
        )
        hooks.append(
            model.encoder.layer[i].register_forward_pre_hook(
                lambda m, a, i=i: layer_in.__setitem__(i, a[0].detach()[0])
            )
        )
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        for h in hooks:
            h.remove()
    norms = attention_norms_from_inputs(model, inputs)
    heads = model.config.num_attention_heads
    assert len(dense_out) == norms.num_layers == model.config.num_hidden_layers
    for i, modules in enumerate(layers):
        f = transformed_vectors(modules, layer_in[i], heads)  # [H, T, E]
        alpha = norms.attentions[i].double()  # [H, T, T]
        rebuilt = torch.einsum("hij,hje->ie", alpha, f) + modules["dense"].bias.double()
        err = (rebuilt - dense_out[i].double()).abs().max().item()
        assert err <= 1e-4, f"layer {i}: max |difference| {err}"


def test_norms_equal_norms_of_the_explicit_vectors(pair):
    tokenizer, model = pair
    inputs = encode(tokenizer, "Small boats drift.")
    norms = attention_norms_from_inputs(model, inputs)
    with torch.no_grad():
        hidden = model(**inputs, output_hidden_states=True).hidden_states
    for i, modules in enumerate(bert_attention_modules(model)):
        f = transformed_vectors(modules, hidden[i][0], model.config.num_attention_heads)
        vectors = norms.attentions[i].double()[..., None] * f[:, None, :, :]  # [H, T, T, E]
        torch.testing.assert_close(norms.head_norms[i], vectors.norm(dim=-1).float())
        torch.testing.assert_close(norms.layer_norms[i], vectors.sum(0).norm(dim=-1).float())
        torch.testing.assert_close(norms.value_norms[i], f.norm(dim=-1).float())


def numpy_norms(model, tokenizer, text):
    """Kobayashi et al.'s norms from the state dict, in NumPy, with explicit vectors."""
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True, output_hidden_states=True)
    sd = {
        k: v.double().numpy()
        for k, v in model.state_dict().items()
        if ".self.value." in k or ".output.dense." in k
    }
    heads = model.config.num_attention_heads
    head_out, layer_out = [], []
    for i in range(model.config.num_hidden_layers):
        x = out.hidden_states[i][0].double().numpy()  # [T, E] input of layer i
        alpha = out.attentions[i][0].double().numpy()  # [H, T, T]
        p = f"encoder.layer.{i}.attention."
        v = x @ sd[p + "self.value.weight"].T + sd[p + "self.value.bias"]  # [T, E]
        d = v.shape[1] // heads
        w_o = sd[p + "output.dense.weight"]  # [E, E]
        per_head = np.stack(
            [v[:, h * d : (h + 1) * d] @ w_o[:, h * d : (h + 1) * d].T for h in range(heads)]
        )  # [H, T, E]
        weighted = alpha[..., None] * per_head[:, None]  # [H, T(i), T(j), E]
        head_out.append(np.linalg.norm(weighted, axis=-1))
        layer_out.append(np.linalg.norm(weighted.sum(0), axis=-1))
    return np.stack(head_out), np.stack(layer_out)


@pytest.mark.parametrize(
    "text",
    ["Quietly, the ferry left before dawn.", "Do owls dream?"],
)
def test_matches_independent_numpy_implementation(pair, text):
    tokenizer, model = pair
    ours = attention_norms(text, pair)
    head_ref, layer_ref = numpy_norms(model, tokenizer, text)
    np.testing.assert_allclose(ours.head_norms.numpy(), head_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.layer_norms.numpy(), layer_ref, rtol=1e-4, atol=1e-5)


def test_from_text_carries_the_maps(pair):
    norms = attention_norms("Maps and norms agree.", pair)
    maps = attnbook.attend("Maps and norms agree.", pair)
    assert norms.tokens == maps.tokens
    torch.testing.assert_close(norms.attentions, maps.attentions)
    assert torch.equal(norms.special, maps.special)
    as_maps = norms.as_maps("head")
    assert as_maps.tokens == maps.tokens
    torch.testing.assert_close(as_maps.attentions.sum(-1), torch.ones(6, 12, maps.num_tokens))
    assert norms.as_maps("layer").attentions.shape == (6, 1, maps.num_tokens, maps.num_tokens)
    # Norm-based maps go through the same statistics as weights.
    stats = head_statistics(as_maps)
    assert len(stats) == 72
    np.testing.assert_allclose(
        stats[["to_cls", "to_sep", "to_punct", "to_other"]].sum(axis=1), 1.0, atol=1e-5
    )


def test_normalized_rows_sum_to_one_and_bad_level(pair):
    norms = attention_norms("Tides.", pair)
    torch.testing.assert_close(norms.normalized("layer").sum(-1), torch.ones(6, norms.num_tokens))
    with pytest.raises(AnalysisInputError, match="level"):
        norms.normalized("token")


def test_restores_training_mode(pair):
    tokenizer, model = pair
    model.train()
    try:
        norms = attention_norms_from_inputs(model, encode(tokenizer, "Dropout is off."))
        assert model.training
        again = attention_norms_from_inputs(model, encode(tokenizer, "Dropout is off."))
        torch.testing.assert_close(norms.layer_norms, again.layer_norms)  # no dropout noise
    finally:
        model.eval()


def test_raw_inputs_without_maps(pair):
    tokenizer, model = pair
    norms = attention_norms_from_inputs(model, encode(tokenizer, "a b"))
    assert norms.maps is None and norms.tokens == ["0", "1", "2", "3"]
    with pytest.raises(AnalysisInputError, match="attention_norms"):
        norms.as_maps()
    with pytest.raises(AnalysisInputError, match=r"\[1, T\]"):
        attention_norms_from_inputs(model, tokenizer(["a", "b"], return_tensors="pt"))


def test_unsupported_model_is_a_clear_error():
    with pytest.raises(UnsupportedModelError, match="BERT-style"):
        bert_attention_modules(torch.nn.Linear(2, 2))
    config = transformers.DistilBertConfig(
        vocab_size=20, dim=8, n_layers=1, n_heads=2, hidden_dim=16, max_position_embeddings=16
    )
    with pytest.raises(UnsupportedModelError, match="BERT-style"):
        bert_attention_modules(transformers.DistilBertModel(config))
    assert issubclass(UnsupportedModelError, attnbook.AttnbookError)


def tiny_bert(implementation):
    config = transformers.BertConfig(
        vocab_size=30,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=32,
        max_position_embeddings=16,
        attn_implementation=implementation,
    )
    torch.manual_seed(0)
    return transformers.BertForMaskedLM(config).eval()


def test_task_head_models_and_fused_attention():
    ids = {"input_ids": torch.tensor([[2, 5, 7, 3]])}
    # A model with a task head: the encoder is found through base_model.
    norms = attention_norms_from_inputs(tiny_bert("eager"), ids)
    assert norms.head_norms.shape == (2, 4, 4, 4)
    with pytest.raises(NoAttentionError, match="eager"):
        attention_norms_from_inputs(tiny_bert("sdpa"), ids)


def test_sentence_pairs_use_attends_input(pair):
    norms = attention_norms("The tide came in.", pair, pair="Boats floated.")
    assert norms.maps.pair == "Boats floated."
    assert norms.tokens.count("[SEP]") == 2
    torch.testing.assert_close(norms.attentions, norms.maps.attentions)


@pytest.mark.parametrize("family", ["roberta", "electra"])
def test_other_bert_style_families(family, tmp_path):
    from tiny_models import build

    path = str(build(family, tmp_path))
    norms = attention_norms("The dog chased the cat.", path)
    assert norms.tokens == norms.maps.tokens
    torch.testing.assert_close(norms.attentions, norms.maps.attentions)
    _, model = attnbook.load_model(path)
    layers = bert_attention_modules(model)
    with torch.no_grad():
        hidden = model(
            input_ids=torch.tensor([model_ids(path, norms.tokens)]), output_hidden_states=True
        ).hidden_states
    for i, modules in enumerate(layers):
        f = transformed_vectors(modules, hidden[i][0], model.config.num_attention_heads)
        vectors = norms.attentions[i].double()[..., None] * f[:, None]
        torch.testing.assert_close(norms.layer_norms[i], vectors.sum(0).norm(dim=-1).float())


def model_ids(path, tokens):
    tokenizer, _ = attnbook.load_model(path)
    return tokenizer.convert_tokens_to_ids(tokens)


def test_distilbert_checkpoint_is_unsupported(tmp_path):
    from tiny_models import build

    with pytest.raises(UnsupportedModelError, match="BERT-style"):
        attention_norms("The dog barks.", str(build("distilbert", tmp_path)))
