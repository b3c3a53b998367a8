"""AttentionMaps built by hand (random softmax rows), for tests that need no model.

Used by test_view.py, test_view_browser.py and test_plot.py.
"""

from __future__ import annotations

import torch

from attnbook.maps import AttentionMaps

SPECIAL_TOKENS = ("[CLS]", "[SEP]")


def synthetic_maps(
    tokens,
    layers=2,
    heads=3,
    seed=0,
    sharpness=3.0,
    model_id="synthetic",
    joiner=" ",
) -> AttentionMaps:
    """AttentionMaps over ``tokens``: [CLS]/[SEP] are special, every other token is its own word.

    ``attentions`` is [layers, heads, n, n], each row softmax(sharpness * N(0, 1)) from
    ``seed``; larger ``sharpness`` gives peakier rows. ``text`` is the words joined by ``joiner``.
    """
    n = len(tokens)
    special = [t in SPECIAL_TOKENS for t in tokens]
    words = [t for t, s in zip(tokens, special, strict=True) if not s]
    word_ids, w = [], 0
    for s in special:
        word_ids.append(None if s else w)
        w += not s
    gen = torch.Generator().manual_seed(seed)
    att = torch.softmax(sharpness * torch.randn(layers, heads, n, n, generator=gen), dim=-1)
    return AttentionMaps(
        tokens=list(tokens),
        word_ids=word_ids,
        words=words,
        special=torch.tensor(special),
        attentions=att,
        model_id=model_id,
        segment_ids=[0] * n,
        text=joiner.join(words),
    )


def _axis(tokens):
    """A TokenAxis: special tokens alone, a "##piece" joins the word before it."""
    from attnbook.maps import TokenAxis

    special = [t in SPECIAL_TOKENS or t in ("<s>", "</s>", "<pad>") for t in tokens]
    words: list[str] = []
    word_ids: list[int | None] = []
    for t, s in zip(tokens, special, strict=True):
        if s:
            word_ids.append(None)
        elif t.startswith("##") and words:
            words[-1] += t[2:]
            word_ids.append(len(words) - 1)
        else:
            words.append(t)
            word_ids.append(len(words) - 1)
    return TokenAxis(list(tokens), word_ids, words, torch.tensor(special))


def synthetic_seq2seq(
    source, target, *, encoder_layers=2, decoder_layers=3, heads=2, seed=0, model_id="synthetic"
):
    """A Seq2SeqMaps built by hand: random softmax rows, the decoder's causal.

    ``target`` is the decoder's input (start token first). Encoder ``[Le, H, S, S]``,
    decoder ``[Ld, H, T, T]`` (0 above the diagonal), cross ``[Ld, H, T, S]``.
    """
    from attnbook.maps import AttentionMaps
    from attnbook.seq2seq import Seq2SeqMaps

    s, t = len(source), len(target)
    gen = torch.Generator().manual_seed(seed)

    def rows(layers, q, k, causal=False):
        scores = 3 * torch.randn(layers, heads, q, k, generator=gen)
        if causal:
            scores = scores.masked_fill(torch.ones(q, k, dtype=torch.bool).triu(1), float("-inf"))
        return torch.softmax(scores, dim=-1)

    src, tgt = _axis(source), _axis(target)
    common = {"model_id": model_id}
    return Seq2SeqMaps(
        encoder=AttentionMaps(
            attentions=rows(encoder_layers, s, s),
            query=src,
            key=src,
            text=" ".join(src.words),
            **common,
        ),
        decoder=AttentionMaps(
            attentions=rows(decoder_layers, t, t, causal=True),
            query=tgt,
            key=tgt,
            text=" ".join(tgt.words),
            causal=True,
            **common,
        ),
        cross=AttentionMaps(
            attentions=rows(decoder_layers, t, s),
            query=tgt,
            key=src,
            text=" ".join(tgt.words),
            **common,
        ),
        model_id=model_id,
    )
