"""recompute_attention: Part I's formula, fed the model's own Q/K weights, is what BERT computes."""

from __future__ import annotations

import pytest
import torch
from tiny_models import build, reference_attentions

import attnbook
from attnbook.adapters import recompute as maps_module  # where the formula is applied
from attnbook.errors import EmptyTextError, LayerOutOfRangeError, NotTextError
from attnbook.maps import recompute_attention, recompute_attentions

SENTENCES = [
    "The dog chased the cat.",
    "Attention is unbelievably simple, isn't it?",
    "Kyoto's temples, quiet at dawn, fill with visitors by noon.",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_every_layer_of_the_default_model(text):
    reference = attnbook.attend(text).attentions  # transformers' outputs.attentions
    mine = recompute_attentions(None, text)
    assert mine.shape == reference.shape
    for layer in range(reference.shape[0]):
        assert (mine[layer] - reference[layer]).abs().max().item() <= 1e-5, layer
    # the one-layer entry point computes the same thing
    torch.testing.assert_close(recompute_attention(None, text, 4), mine[4], atol=0, rtol=0)


@pytest.mark.parametrize("family", ["distilbert", "roberta", "electra"])
def test_every_layer_of_other_families(family, tmp_path):
    path = build(family, tmp_path)
    text = "The dog chased the cat, unbelievably."
    reference = reference_attentions(path, text)
    mine = recompute_attentions(str(path), text)
    for layer in range(reference.shape[0]):
        assert (mine[layer] - reference[layer]).abs().max().item() <= 1e-5, (family, layer)


class PaddingTokenizer:
    """A tokenizer that pads every text to ``length``, as in a batch with longer sentences."""

    def __init__(self, tokenizer, length):
        self.tokenizer, self.length = tokenizer, length

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)

    def __call__(self, *args, **kwargs):
        return self.tokenizer(*args, padding="max_length", max_length=self.length, **kwargs)


def test_padded_input_equals_transformers_and_padding_gets_no_weight():
    # Without padding the attention mask is all ones and its use is never tested.
    tokenizer, model = attnbook.load_model(None)
    text, pad = "The dog chased the cat.", 4
    n = len(tokenizer(text)["input_ids"])
    padded = PaddingTokenizer(tokenizer, n + pad)
    mine = recompute_attentions((padded, model), text)
    enc = tokenizer(text, padding="max_length", max_length=n + pad, return_tensors="pt")
    assert enc["attention_mask"][0].tolist() == [1] * n + [0] * pad
    with torch.no_grad():
        reference = torch.cat(model(**enc, output_attentions=True).attentions)
    assert mine.shape == reference.shape == (6, 12, n + pad, n + pad)
    assert (mine - reference).abs().max().item() <= 1e-5
    assert mine[..., n:].abs().max().item() <= 1e-12  # no query attends to padding
    # The real tokens see exactly what they see without padding.
    unpadded = recompute_attentions(None, text)
    assert (mine[:, :, :n, :n] - unpadded).abs().max().item() <= 1e-5


def test_uses_the_library_formula(monkeypatch):
    calls = []
    original = maps_module.scaled_dot_product_attention

    def spy(q, k, v, mask=None, scale=None):
        calls.append((tuple(q.shape), scale))
        return original(q, k, v, mask=mask, scale=scale)

    monkeypatch.setattr(maps_module, "scaled_dot_product_attention", spy)
    weights = recompute_attention(None, "The dog chased the cat.", 0)
    assert calls == [((12, 8, 32), None)]  # 12 heads, 8 tokens, d_k = 384 / 12; default 1/sqrt(d_k)
    assert weights.shape == (12, 8, 8)


def test_a_different_layer_gives_different_weights():
    # guards against returning the same captured input for every layer
    both = recompute_attentions(None, "The dog chased the cat.")
    assert (both[0] - both[1]).abs().max().item() > 1e-3


def test_bad_input():
    with pytest.raises(LayerOutOfRangeError, match=r"0\.\.5"):
        recompute_attention(None, "The dog.", 6)
    with pytest.raises(EmptyTextError):
        recompute_attention(None, " ", 0)
    with pytest.raises(NotTextError):
        recompute_attention(None, 3.14, 0)
    with pytest.raises(LayerOutOfRangeError):
        recompute_attention(None, "The dog.", True)
    torch.testing.assert_close(
        recompute_attention(None, "The dog.", -1), recompute_attentions(None, "The dog.")[5]
    )
