"""recompute_attention: Part I's formula, fed the model's own Q/K weights, is what BERT computes."""

from __future__ import annotations

import pytest
import torch
from tiny_models import build, reference_attentions

import attnbook
from attnbook import maps as maps_module
from attnbook import recompute_attention
from attnbook.errors import EmptyTextError, LayerOutOfRangeError, NotTextError

SENTENCES = [
    "The dog chased the cat.",
    "Attention is unbelievably simple, isn't it?",
    "Kyoto's temples, quiet at dawn, fill with visitors by noon.",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_every_layer_of_the_default_model(text):
    reference = attnbook.attend(text).attentions  # transformers' outputs.attentions
    for layer in range(reference.shape[0]):
        mine = recompute_attention(None, text, layer)
        assert mine.shape == reference[layer].shape
        assert (mine - reference[layer]).abs().max().item() <= 1e-5, layer


@pytest.mark.parametrize("family", ["distilbert", "roberta", "electra"])
def test_every_layer_of_other_families(family, tmp_path):
    path = build(family, tmp_path)
    text = "The dog chased the cat, unbelievably."
    reference = reference_attentions(path, text)
    for layer in range(reference.shape[0]):
        mine = recompute_attention(str(path), text, layer)
        assert (mine - reference[layer]).abs().max().item() <= 1e-5, (family, layer)


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
    a = recompute_attention(None, "The dog chased the cat.", 0)
    b = recompute_attention(None, "The dog chased the cat.", 1)
    assert (a - b).abs().max().item() > 1e-3


def test_bad_input():
    with pytest.raises(LayerOutOfRangeError, match=r"0\.\.5"):
        recompute_attention(None, "The dog.", 6)
    with pytest.raises(EmptyTextError):
        recompute_attention(None, " ", 0)
    with pytest.raises(NotTextError):
        recompute_attention(None, 3.14, 0)
    torch.testing.assert_close(
        recompute_attention(None, "The dog.", -1), recompute_attention(None, "The dog.", 5)
    )
