"""One small Transformer family built from attnbook's own :class:`~attnbook.mechanism.MultiHeadAttention`.

Token embeddings plus learned position embeddings, then ``num_layers``
**pre-LN** blocks (``x + attn(LN(x))``, then ``x + ff(LN(x))``; pre-LN
because it trains stably in a few hundred steps without warm-up tricks), a
final LayerNorm and a linear layer that scores every word of the vocabulary
at every position. No dropout: training is short and the result must be
reproducible bit for bit.

* :class:`ToyEncoder` -- bidirectional blocks, masked-word prediction.
* :class:`ToyDecoder` -- the same blocks with a causal mask, next-token
  prediction (GPT-style); ``d_ff=0`` gives an attention-only model.
* :class:`ToyEncoderDecoder` -- encoder blocks over a source sentence and
  decoder blocks with a cross-attention sublayer (translation).

``positions="qk"`` (Shortformer, Press et al. 2021) adds the position
embeddings to the queries' and keys' inputs of every attention layer instead
of to the token embeddings: attention can still depend on position, but the
values, and so the residual stream, carry only token content. The default
``positions="input"`` is the GPT/BERT way (added once, to the input).

Layers and heads are **0-indexed** everywhere: ``attentions[:, 0, 2]`` is
layer 0, head 2.

>>> import torch
>>> model = ToyEncoder(vocab_size=10, max_len=6, d_model=8, num_layers=2, num_heads=2,
...                    d_ff=16, seed=0)
>>> out = model(torch.tensor([[3, 4, 5, 0]]))  # 0 is padding
>>> tuple(out.logits.shape), tuple(out.attentions.shape)
((1, 4, 10), (1, 2, 2, 4, 4))
>>> out.attentions[0, 0, 0, 0, 3].item()  # nobody attends to padding
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from attnbook.mechanism import KVCache, MultiHeadAttention, causal_mask
from attnbook.toy.grammar import ToyGrammarError

__all__ = [
    "MASK_ID",
    "PAD_ID",
    "POSITIONS",
    "Seq2SeqOutput",
    "ToyDecoder",
    "ToyEncoder",
    "ToyEncoderDecoder",
    "ToyOutput",
]

PAD_ID = 0  # index of "[PAD]" in attnbook.toy.grammar.VOCAB
MASK_ID = 1  # index of "[MASK]"
POSITIONS = ("input", "qk")  # where the position embeddings enter (see the module docstring)


@dataclass(frozen=True)
class ToyOutput:
    """What :class:`ToyEncoder` returns.

    Attributes:
        logits: ``[B, T, V]`` scores of every vocabulary word at every position.
        attentions: ``[B, L, H, T, T]`` attention weights; rows are queries
            (who looks), columns keys (who is looked at); layers and heads 0-indexed.
    """

    logits: Tensor
    attentions: Tensor


class _Block(nn.Module):
    """One pre-LN transformer block (``d_ff=0``: attention only, no feed-forward)."""

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, num_kv_heads: int | None = None
    ) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads, num_kv_heads=num_kv_heads)
        self.ff: nn.Module | None = None
        if d_ff:
            self.ln_ff = nn.LayerNorm(d_model)
            self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        qk_pos: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``x`` ``[B, T, E]``, ``mask`` ``[B, 1, T or 1, S]`` -> ``([B, T, E], [B, H, T, S])``.

        ``qk_pos`` ``[1, T, E]``: position embeddings added to the queries' and
        keys' inputs only (Shortformer); ``None`` = plain self-attention.
        ``S = T``, or with a ``cache`` the cached positions plus ``T``.
        """
        h = self.ln_attn(x)
        if qk_pos is None:
            attended, weights = self.attn(h, mask=mask, cache=cache)
        else:
            attended, weights = self.attn(h + qk_pos, h + qk_pos, h, mask=mask, cache=cache)
        x = x + attended
        if self.ff is not None:
            x = x + self.ff(self.ln_ff(x))
        return x, weights


class _ToyTransformer(nn.Module):
    """Embeddings, blocks and output layer shared by the encoder and the decoder."""

    _min_d_ff = 1

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        d_model: int = 64,
        num_layers: int = 3,
        num_heads: int = 4,
        d_ff: int = 128,
        *,
        seed: int = 0,
        positions: str = "input",
        num_kv_heads: int | None = None,
    ) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ToyGrammarError(
                f"positions must be one of {POSITIONS} ('input': added to the token "
                f"embeddings; 'qk': added to queries and keys only), got {positions!r}"
            )
        self.positions = positions
        for name, value, least in (
            ("vocab_size", vocab_size, 1),
            ("max_len", max_len, 1),
            ("d_model", d_model, 1),
            ("num_layers", num_layers, 1),
            ("num_heads", num_heads, 1),
            ("d_ff", d_ff, self._min_d_ff),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                kind = "a positive int" if least else "an int >= 0"
                raise ToyGrammarError(f"{name} must be {kind}, got {value!r}")
        if d_model % num_heads:
            raise ToyGrammarError(
                f"d_model ({d_model}) must be divisible by num_heads ({num_heads})"
            )
        if num_kv_heads is not None and (
            not isinstance(num_kv_heads, int)
            or isinstance(num_kv_heads, bool)
            or num_kv_heads < 1
            or num_heads % num_kv_heads
        ):
            raise ToyGrammarError(
                f"num_kv_heads must be a positive int that divides num_heads ({num_heads}), "
                f"got {num_kv_heads!r}"
            )
        self.max_len = max_len
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.tok = nn.Embedding(vocab_size, d_model)
            self.pos = nn.Embedding(max_len, d_model)
            self.blocks = nn.ModuleList(
                _Block(d_model, num_heads, d_ff, num_kv_heads) for _ in range(num_layers)
            )
            self.ln_out = nn.LayerNorm(d_model)
            self.out = nn.Linear(d_model, vocab_size)
            # Small embeddings, as in BERT; LayerNorm rescales them anyway.
            nn.init.normal_(self.tok.weight, std=0.02)
            nn.init.normal_(self.pos.weight, std=0.02)

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    @property
    def num_heads(self) -> int:
        return cast(_Block, self.blocks[0]).attn.num_heads  # ModuleList items are typed Module

    @property
    def num_kv_heads(self) -> int:
        """Key/value heads per layer (``num_heads`` unless grouped-query attention)."""
        return cast(_Block, self.blocks[0]).attn.num_kv_heads

    def _check_ids(self, ids: Tensor) -> None:
        if ids.ndim != 2:
            raise ToyGrammarError(f"ids must have shape [B, T], got {tuple(ids.shape)}")
        if ids.shape[1] > self.max_len:
            raise ToyGrammarError(
                f"sentences of {ids.shape[1]} tokens are longer than max_len={self.max_len}; "
                "build the model with a larger max_len"
            )

    def _run(
        self, ids: Tensor, mask: Tensor, caches: Sequence[KVCache] | None = None, start: int = 0
    ) -> ToyOutput:
        t = ids.shape[1]
        pos = self.pos(torch.arange(start, start + t, device=ids.device))[None]  # [1, T, E]
        if self.positions == "input":
            x, qk_pos = self.tok(ids) + pos, None
        else:
            x, qk_pos = self.tok(ids), pos
        maps = []
        for i, block in enumerate(self.blocks):
            x, w = block(x, mask, qk_pos, None if caches is None else caches[i])
            maps.append(w)
        logits = self.out(self.ln_out(x))
        return ToyOutput(logits=logits, attentions=torch.stack(maps, dim=1))


class ToyEncoder(_ToyTransformer):
    """A small bidirectional transformer encoder for masked-word prediction.

    Args:
        vocab_size: number of words ``V`` (id 0 is padding).
        max_len: longest sentence the position embeddings cover.
        d_model: width ``E``.
        num_layers: number of blocks ``L``.
        num_heads: heads per block ``H``; must divide ``d_model``.
        d_ff: hidden width of the feed-forward sublayer.
        seed: initial weights come from ``torch.manual_seed(seed)`` inside a
            forked RNG, so the global random state is left untouched.
        positions: ``"input"`` (default) adds the position embeddings to the
            token embeddings; ``"qk"`` adds them to every layer's queries and
            keys only (Shortformer). Both have the same parameters.
        num_kv_heads: key/value heads per layer (default ``num_heads``); fewer
            gives grouped-query attention, 1 multi-query attention
            (:class:`~attnbook.MultiHeadAttention`). The default builds
            exactly the weights it always did.
    """

    def forward(self, ids: Tensor) -> ToyOutput:
        """Encode ``ids`` ``[B, T]`` (``PAD_ID`` = padding, never attended to)."""
        self._check_ids(ids)
        keep = (ids != PAD_ID)[:, None, None, :]  # [B, 1, 1, T]: True = may be attended to
        return self._run(ids, keep)


@dataclass(frozen=True)
class Seq2SeqOutput:
    """What :class:`ToyEncoderDecoder` returns.

    Attributes:
        logits: ``[B, T, V]`` scores of the next target word at every decoder position.
        encoder_attentions: ``[B, L, H, S, S]`` the encoder's self-attention.
        decoder_attentions: ``[B, L, H, T, T]`` the decoder's causal self-attention.
        cross_attentions: ``[B, L, H, T, S]`` decoder queries (rows) reading the
            encoder's keys and values (columns): not square when ``T != S``.
    """

    logits: Tensor
    encoder_attentions: Tensor
    decoder_attentions: Tensor
    cross_attentions: Tensor


class _CrossBlock(_Block):
    """A decoder block: causal self-attention, then cross-attention to the encoder, then FF."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int) -> None:
        super().__init__(d_model, num_heads, d_ff)
        self.ln_cross = nn.LayerNorm(d_model)
        self.cross = MultiHeadAttention(d_model, num_heads)

    def forward(  # type: ignore[override]
        self, x: Tensor, mask: Tensor, memory: Tensor, memory_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``x`` ``[B, T, E]``, ``memory`` ``[B, S, E]`` -> ``x``, self ``[B, H, T, T]``, cross ``[B, H, T, S]``."""
        attended, self_w = self.attn(self.ln_attn(x), mask=mask)
        x = x + attended
        # Queries from the target side, keys and values from the source side.
        read, cross_w = self.cross(self.ln_cross(x), memory, memory, mask=memory_mask)
        x = x + read
        if self.ff is not None:
            x = x + self.ff(self.ln_ff(x))
        return x, self_w, cross_w


class ToyEncoderDecoder(nn.Module):
    """A small encoder--decoder (translation) model on the same blocks as :class:`ToyEncoder`.

    The encoder is a stack of the encoder's bidirectional blocks over the
    source; each decoder block adds a **cross-attention** sublayer
    (``x + cross(LN(x), memory, memory)``) between its causal self-attention
    and its feed-forward sublayer, so its queries come from the target and
    its keys and values from the encoder's output. Source and target have
    their own embeddings over one vocabulary of ``vocab_size`` words.

    Args:
        vocab_size, max_len, d_model, num_heads, d_ff, seed: as in :class:`ToyEncoder`
            (``max_len`` bounds both sides).
        num_layers: blocks in the encoder and in the decoder (``L`` each).

    >>> model = ToyEncoderDecoder(vocab_size=10, max_len=6, d_model=8, num_layers=1,
    ...                           num_heads=2, d_ff=16, seed=0)
    >>> out = model(torch.tensor([[3, 4, 5, 0]]), torch.tensor([[2, 6, 7]]))
    >>> tuple(out.cross_attentions.shape)  # [B, L, H, T_target, S_source]
    (1, 1, 2, 3, 4)
    >>> out.cross_attentions[0, 0, 0, :, 3].tolist()  # no target word reads source padding
    [0.0, 0.0, 0.0]
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        d_ff: int = 128,
        *,
        seed: int = 0,
    ) -> None:
        super().__init__()
        # The source side is the encoder's own embeddings and blocks (and argument checks).
        self.encoder = _ToyTransformer(
            vocab_size, max_len, d_model, num_layers, num_heads, d_ff, seed=seed
        )
        del self.encoder.out  # the encoder's output is the memory, not word scores
        with torch.random.fork_rng(devices=[]):
            # A second stream, so the target embeddings do not start equal to the source's.
            torch.manual_seed(seed + 1_000_003)
            self.tok = nn.Embedding(vocab_size, d_model)
            self.pos = nn.Embedding(max_len, d_model)
            self.blocks = nn.ModuleList(
                _CrossBlock(d_model, num_heads, d_ff) for _ in range(num_layers)
            )
            self.ln_out = nn.LayerNorm(d_model)
            self.out = nn.Linear(d_model, vocab_size)
            nn.init.normal_(self.tok.weight, std=0.02)
            nn.init.normal_(self.pos.weight, std=0.02)
        self.max_len = max_len

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    @property
    def num_heads(self) -> int:
        return cast(_Block, self.blocks[0]).attn.num_heads

    def encode(self, source: Tensor) -> tuple[Tensor, Tensor]:
        """``source`` ``[B, S]`` -> memory ``[B, S, E]`` and encoder attentions ``[B, L, H, S, S]``."""
        enc = self.encoder
        enc._check_ids(source)
        keep = (source != PAD_ID)[:, None, None, :]
        x = enc.tok(source) + enc.pos(torch.arange(source.shape[1], device=source.device))[None]
        maps = []
        for block in enc.blocks:
            x, w = block(x, keep)
            maps.append(w)
        return enc.ln_out(x), torch.stack(maps, dim=1)

    def decode(
        self, target: Tensor, memory: Tensor, source: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Decoder inputs ``target`` ``[B, T]`` over ``memory`` -> logits, self and cross maps."""
        self.encoder._check_ids(target)
        t = target.shape[1]
        mask = (target != PAD_ID)[:, None, None, :] & causal_mask(t).to(target.device)
        memory_mask = (source != PAD_ID)[:, None, None, :]  # [B, 1, 1, S]
        x = self.tok(target) + self.pos(torch.arange(t, device=target.device))[None]
        selfs, crosses = [], []
        for block in self.blocks:
            x, sw, cw = block(x, mask, memory, memory_mask)
            selfs.append(sw)
            crosses.append(cw)
        logits = self.out(self.ln_out(x))
        return logits, torch.stack(selfs, dim=1), torch.stack(crosses, dim=1)

    def forward(self, source: Tensor, target: Tensor) -> Seq2SeqOutput:
        """Teacher forcing: ``logits[:, i]`` scores target word ``i + 1`` given ``target[:, :i+1]``."""
        memory, enc_w = self.encode(source)
        logits, dec_w, cross_w = self.decode(target, memory, source)
        return Seq2SeqOutput(logits, enc_w, dec_w, cross_w)


class ToyDecoder(_ToyTransformer):
    """A small GPT-style decoder: the encoder's blocks with a causal mask.

    Position ``i`` sees tokens ``0..i`` only, and ``logits[:, i]`` scores the
    token at ``i + 1`` (next-token prediction). Same arguments as
    :class:`ToyEncoder`, except that ``d_ff=0`` builds an attention-only
    model (no feed-forward sublayers), as in Olsson et al.'s (2022) study of
    induction heads.

    >>> model = ToyDecoder(vocab_size=10, max_len=6, d_model=8, num_layers=2, num_heads=2,
    ...                    d_ff=0, seed=0)
    >>> out = model(torch.tensor([[3, 4, 5, 6]]))
    >>> out.attentions[0, 0, 0, 1].tolist()  # query 1 sees keys 0 and 1, not 2 or 3
    [..., ..., 0.0, 0.0]
    """

    _min_d_ff = 0

    def forward(self, ids: Tensor, *, caches: Sequence[KVCache] | None = None) -> ToyOutput:
        """Run ``ids`` ``[B, T]``; ``PAD_ID`` keys are never attended to.

        ``caches``: one :class:`~attnbook.KVCache` per layer, for generating
        one token at a time. The new tokens then stand at positions
        ``len(caches[0]) ...``, attend to the cached keys/values and their own,
        and are appended to the caches; ``attentions`` is ``[B, L, H, T, S]``
        with ``S`` the cached positions plus ``T``. Feeding a sequence piece
        by piece this way gives the logits of one pass over the whole sequence.
        Generation does not pad, so with caches ``ids`` must not contain ``PAD_ID``.
        """
        self._check_ids(ids)
        t = ids.shape[1]
        if caches is None:
            keep = (ids != PAD_ID)[:, None, None, :]  # [B, 1, 1, T]
            mask = keep & causal_mask(t).to(ids.device)  # [B, 1, T, T]
            return self._run(ids, mask)
        if len(caches) != self.num_layers or not all(isinstance(c, KVCache) for c in caches):
            raise ToyGrammarError(
                f"caches must be {self.num_layers} KVCache objects, one per layer; got {caches!r}"
            )
        start = len(caches[0])
        if start + t > self.max_len:
            raise ToyGrammarError(
                f"{start} cached and {t} new positions exceed max_len={self.max_len}; "
                "build the model with a larger max_len or start again with fresh caches"
            )
        if bool((ids == PAD_ID).any()):
            raise ToyGrammarError(
                "ids fed with caches must not contain padding (PAD_ID): generate each "
                "sequence without padding, or run it in one pass without caches"
            )
        # The new queries are the last t of the start + t key positions.
        mask = causal_mask(t, start + t).to(ids.device)  # [T, S]
        return self._run(ids, mask, caches, start)
