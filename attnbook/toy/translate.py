"""A toy English -> Japanese translator, and how its cross-attention is scored against the gold alignment.

:class:`~attnbook.toy.model.ToyEncoderDecoder` is trained on
:func:`~attnbook.toy.parallel.make_pair_split` pairs by next-word prediction
under teacher forcing. The decoder's first input token says which word
order to write: ``[SOV]`` or ``[OSV]`` (the scrambled order, object + を
first), so one model learns both and greedy decoding is never ambiguous.

Scoring (:func:`alignment_scores`): for the decoder step that *writes*
Japanese word ``j`` (its query reads the English sentence), the source word a
cross-attention map **points to** is the column with the largest weight. It
is right when that is the gold-aligned English word. Each head of each layer
is scored, and so is each layer's mean over its heads; the **diagonal
baseline** points target word ``j`` of ``T`` at source word
``round(j · (S - 1) / (T - 1))`` of ``S``: the guess of a translator that
keeps the word order.

Training is seeded (initial weights, batches) with the global RNG untouched,
and cached on disk like :func:`attnbook.toy.load_or_train`: the same
:class:`TranslatorConfig` and code give the same weights hash.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.toy import cache as _cache
from attnbook.toy import training
from attnbook.toy.grammar import VOCAB, ToyGrammarError
from attnbook.toy.model import PAD_ID, ToyEncoderDecoder
from attnbook.toy.parallel import Pair, make_pair_split
from attnbook.toy.training import weights_hash

__all__ = [
    "EOS",
    "MAX_LEN",
    "START",
    "TranslatorConfig",
    "TranslatorResult",
    "VOCAB_SEQ",
    "alignment_scores",
    "cross_attentions",
    "diagonal",
    "encode_pairs",
    "exact_match",
    "load_or_train_translator",
    "pointed",
    "score_pointers",
    "seq2seq_maps",
    "train_translator",
    "translate",
]

START = {"SOV": "[SOV]", "OSV": "[OSV]"}
"""The decoder's first input token for each Japanese word order."""
EOS = "[EOS]"
VOCAB_SEQ: tuple[str, ...] = (*VOCAB, START["SOV"], START["OSV"], EOS)
"""The toy vocabulary plus the two start tokens and the end token (the toy ids are unchanged)."""
_ID = {w: i for i, w in enumerate(VOCAB_SEQ)}
MAX_LEN = 11  # 10 words at most on either side, plus the start or end token


@dataclass(frozen=True)
class TranslatorConfig:
    """Everything that determines a trained toy translator.

    The defaults take about 9 s of CPU time on one thread, data included
    (``benchmarks/bench_toy.py`` checks that training stays under 60 s).
    """

    seed: int = 0
    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int = 128
    n_train: int = 10_000
    n_test: int = 1_000
    scrambled: float = 0.5  # share of OSV targets
    steps: int = 200
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.01

    def __post_init__(self) -> None:
        for name in ("d_model", "num_layers", "num_heads", "d_ff", "n_train", "n_test"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ToyGrammarError(
                    f"TranslatorConfig.{name} must be a positive int, got {value!r}"
                )
        for name in ("steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ToyGrammarError(
                    f"TranslatorConfig.{name} must be a positive int, got {value!r}"
                )
        if self.d_model % self.num_heads:
            raise ToyGrammarError(
                f"TranslatorConfig.d_model ({self.d_model}) must be divisible by num_heads "
                f"({self.num_heads})"
            )
        if not 0.0 <= self.scrambled <= 1.0:
            raise ToyGrammarError(
                f"TranslatorConfig.scrambled must be in [0, 1], got {self.scrambled!r}"
            )

    def replace(self, **changes) -> TranslatorConfig:
        """A copy with some fields changed, e.g. ``config.replace(seed=1)``."""
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A 16-hex-digit hash of this configuration and the code that trains it."""
        return _cache.config_key(self, "grammar.py", "model.py", "parallel.py", "translate.py")


@dataclass
class TranslatorResult:
    """A trained toy translator.

    Attributes:
        config: what was trained.
        model: the :class:`~attnbook.toy.model.ToyEncoderDecoder`, in eval mode.
        losses: the cross-entropy of every training step.
        weights_hash: SHA-256 of the final weights.
        seconds: wall-clock training time (of the original run, if cached).
        from_cache: whether the weights were loaded rather than trained now.
    """

    config: TranslatorConfig
    model: ToyEncoderDecoder
    losses: list[float]
    weights_hash: str
    seconds: float
    from_cache: bool = False

    def pairs(self) -> tuple[list[Pair], list[Pair]]:
        """The (training, held-out) pairs, regenerated from the config."""
        train, test = _split(
            self.config.n_train, self.config.n_test, self.config.seed, self.config.scrambled
        )
        return list(train), list(test)


@functools.lru_cache(maxsize=8)
def _split(n_train: int, n_test: int, seed: int, scrambled: float):
    train, test = make_pair_split(n_train, n_test, seed, scrambled=scrambled)
    return tuple(train), tuple(test)


def _ids(words, length: int) -> list[int]:
    return [_ID[w] for w in words] + [PAD_ID] * (length - len(words))


def encode_pairs(pairs: list[Pair]) -> tuple[Tensor, Tensor, Tensor]:
    """Token ids for teacher forcing, padded with ``PAD_ID``.

    Returns:
        ``source`` ``[N, S]`` (the English words), ``inputs`` ``[N, T + 1]``
        (the start token of the pair's order, then the Japanese words) and
        ``labels`` ``[N, T + 1]`` (the Japanese words, then ``[EOS]``):
        decoder position ``j`` reads ``inputs[:, :j+1]`` and must write ``labels[:, j]``.
    """
    if not pairs:
        raise ToyGrammarError("no pairs to encode; pass at least one Pair")
    s = max(len(p.source) for p in pairs)
    t = max(len(p.target) for p in pairs) + 1
    src = [_ids(p.source.tokens, s) for p in pairs]
    inp = [_ids((START[p.order], *p.target.tokens), t) for p in pairs]
    lab = [_ids((*p.target.tokens, EOS), t) for p in pairs]
    return torch.tensor(src), torch.tensor(inp), torch.tensor(lab)


def _new_model(config: TranslatorConfig) -> ToyEncoderDecoder:
    return ToyEncoderDecoder(
        len(VOCAB_SEQ), MAX_LEN, config.d_model, config.num_layers, config.num_heads,
        config.d_ff, seed=config.seed,
    )  # fmt: skip


def train_translator(
    config: TranslatorConfig | None = None, *, num_threads: int | None = None
) -> TranslatorResult:
    """Train a translator (always trains; see :func:`load_or_train_translator`).

    Args:
        config: defaults to ``TranslatorConfig()``.
        num_threads: if given, ``torch.set_num_threads`` while training (restored after).
    """
    config = TranslatorConfig() if config is None else config
    if not isinstance(config, TranslatorConfig):
        raise ToyGrammarError(f"config must be a TranslatorConfig, got {type(config).__name__}")
    with training.threads(num_threads):
        start = time.perf_counter()
        train, _ = _split(config.n_train, config.n_test, config.seed, config.scrambled)
        src, inp, lab = encode_pairs(list(train))
        model = _new_model(config)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        gen = torch.Generator().manual_seed(config.seed)
        losses: list[float] = []
        model.train()
        for step in range(config.steps):
            picked = torch.randint(len(src), (config.batch_size,), generator=gen)
            s, i, y = src[picked], inp[picked], lab[picked]
            s, y = training.trim_padding(s), training.trim_padding(y)
            i = i[:, : y.shape[1]]
            logits = model(s, i).logits
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=PAD_ID)
            losses.append(training.optimizer_step(optimizer, loss, training.lr_at(step, config)))
        model.eval()
        return TranslatorResult(
            config, model, losses, weights_hash(model), time.perf_counter() - start
        )


def load_or_train_translator(
    config: TranslatorConfig | None = None,
    *,
    cache: str | os.PathLike | None = None,
    num_threads: int | None = None,
) -> TranslatorResult:
    """The trained translator of ``config``: from the cache if possible, else trained and cached."""
    config = TranslatorConfig() if config is None else config
    if not isinstance(config, TranslatorConfig):
        raise ToyGrammarError(f"config must be a TranslatorConfig, got {type(config).__name__}")
    path = training.cache_file("translator", config, cache)

    def rebuild(stored: dict) -> TranslatorResult:
        model = _new_model(config)
        model.load_state_dict(stored["state_dict"])
        model.eval()
        return TranslatorResult(
            config, model, stored["losses"].tolist(), stored["weights_hash"],
            float(stored["seconds"]), from_cache=True,
        )  # fmt: skip

    cached = training.load_cached(path, config, rebuild, "a toy translator")
    if cached is not None:
        return cached
    result = train_translator(config, num_threads=num_threads)
    _cache.write(path, training.payload(result))
    return result


# ---------------------------------------------------------------------------
# translating and scoring


@torch.no_grad()
def translate(model: ToyEncoderDecoder, english: list[str], order: str = "SOV") -> list[str]:
    """Greedy decoding: at each step the most likely next word, until ``[EOS]``.

    Args:
        model: a trained translator (:attr:`TranslatorResult.model`).
        english: toy English sentences (space-separated words).
        order: ``"SOV"`` or ``"OSV"``, the Japanese word order to write.

    Returns:
        The Japanese sentences as space-separated words (without ``[EOS]``).
    """
    if order not in START:
        raise ToyGrammarError(f"order must be 'SOV' or 'OSV', got {order!r}")
    if isinstance(english, str):
        english = [english]
    if not english:
        raise ToyGrammarError("no sentences to translate; pass a list of English sentences")
    words = [s.split() for s in english]
    unknown = sorted({w for ws in words for w in ws if w not in VOCAB[2:]})
    if unknown or not all(words):
        raise ToyGrammarError(
            f"unknown words {unknown} (or an empty sentence); the toy vocabulary is "
            "attnbook.toy.VOCAB[2:]"
        )
    src = torch.tensor([_ids(ws, max(map(len, words))) for ws in words])
    memory, _ = model.encode(src)
    out = torch.full((len(words), 1), _ID[START[order]])
    done = torch.zeros(len(words), dtype=torch.bool)
    for _ in range(model.max_len - 1):
        logits, _, _ = model.decode(out, memory, src)
        nxt = logits[:, -1].argmax(dim=-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD_ID), nxt)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == _ID[EOS]
        if bool(done.all()):
            break
    texts = []
    for row in out[:, 1:].tolist():
        ws = []
        for i in row:
            if i in (_ID[EOS], PAD_ID):
                break
            ws.append(VOCAB_SEQ[i])
        texts.append(" ".join(ws))
    return texts


def exact_match(model: ToyEncoderDecoder, pairs: list[Pair]) -> pd.DataFrame:
    """How many pairs greedy decoding translates word for word right, per word order.

    Returns:
        One row per order present: ``order``, ``correct``, ``total``.
    """
    rows = []
    for order in ("SOV", "OSV"):
        chosen = [p for p in pairs if p.order == order]
        if not chosen:
            continue
        got = translate(model, [p.source.text for p in chosen], order)
        correct = sum(g == p.target.text for g, p in zip(got, chosen, strict=True))
        rows.append({"order": order, "correct": correct, "total": len(chosen)})
    return pd.DataFrame(rows, columns=["order", "correct", "total"])


@torch.no_grad()
def cross_attentions(model: ToyEncoderDecoder, pairs: list[Pair]) -> Tensor:
    """Cross-attention under teacher forcing, one row per Japanese word.

    Returns:
        ``[N, L, H, T, S]``: row ``j`` is the decoder step that writes
        Japanese word ``j`` (its input is the start token or word ``j - 1``);
        columns are English words. Rows and columns past a pair's length are 0.
    """
    src, inp, _ = encode_pairs(pairs)
    att = model(src, inp).cross_attentions  # [N, L, H, T + 1, S]; the last row writes [EOS]
    att = att[:, :, :, :-1]
    for n, p in enumerate(pairs):
        att[n, :, :, len(p.target) :] = 0.0
    return att


def pointed(attentions: Tensor) -> Tensor:
    """The source position each row points to: the argmax over the last axis (ties: the first)."""
    if attentions.ndim < 2:
        raise ToyGrammarError(
            f"attentions must have a [..., T, S] shape, got {tuple(attentions.shape)}"
        )
    return attentions.argmax(dim=-1)


def diagonal(pairs: list[Pair]) -> list[tuple[int, ...]]:
    """The monotonic baseline: Japanese word ``j`` of ``T`` -> English word ``round(j(S-1)/(T-1))``."""
    out = []
    for p in pairs:
        s, t = len(p.source), len(p.target)
        out.append(tuple(round(j * (s - 1) / max(1, t - 1)) for j in range(t)))
    return out


def score_pointers(pointers, pairs: list[Pair], roles: tuple[str, ...] | None = None) -> int:
    """How many Japanese words point to their gold English word.

    Args:
        pointers: per pair, a sequence of source positions (at least
            ``len(pair.target)`` long; a padded ``[N, T]`` tensor works).
        pairs: the pairs the pointers belong to.
        roles: count only Japanese words of these kinds (see
            :data:`attnbook.toy.parallel.ROLES`); default all.
    """
    if len(pointers) != len(pairs):
        raise ToyGrammarError(f"got pointers for {len(pointers)} pairs and {len(pairs)} pairs")
    correct = 0
    for ptr, p in zip(pointers, pairs, strict=True):
        ptr = ptr.tolist() if isinstance(ptr, Tensor) else list(ptr)
        if len(ptr) < len(p.target):
            raise ToyGrammarError(
                f"{len(ptr)} pointers for the {len(p.target)} Japanese words of {p.target.text!r}"
            )
        for j, gold in enumerate(p.alignment):
            if roles is None or p.roles[j] in roles:
                correct += int(ptr[j] == gold)
    return correct


def _count(pairs: list[Pair], roles) -> int:
    return sum(1 for p in pairs for r in p.roles if roles is None or r in roles)


def alignment_scores(
    attentions: Tensor, pairs: list[Pair], roles: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Alignment counts of every head, every layer's head mean and the diagonal baseline.

    Args:
        attentions: ``[N, L, H, T, S]`` cross-attention with one row per
            Japanese word (:func:`cross_attentions`).
        pairs: the ``N`` pairs.
        roles: count only Japanese words of these kinds; default all.

    Returns:
        One row per head (``kind="head"``), per layer's mean over heads
        (``kind="mean"``, ``head`` = -1) and one for the diagonal
        (``kind="diagonal"``, ``layer`` = ``head`` = -1), with ``correct`` and
        ``total``, sorted by ``correct`` (best first; ties by layer, head).
    """
    if attentions.ndim != 5 or attentions.shape[0] != len(pairs):
        raise ToyGrammarError(
            f"attentions must be [N, L, H, T, S] with N = {len(pairs)} pairs, got "
            f"{tuple(attentions.shape)}"
        )
    total = _count(pairs, roles)
    ptr_heads = pointed(attentions)  # [N, L, H, T]
    ptr_mean = pointed(attentions.mean(dim=2))  # [N, L, T]
    rows = []
    for layer in range(attentions.shape[1]):
        for head in range(attentions.shape[2]):
            c = score_pointers(ptr_heads[:, layer, head], pairs, roles)
            rows.append(("head", layer, head, c))
        rows.append(("mean", layer, -1, score_pointers(ptr_mean[:, layer], pairs, roles)))
    rows.append(("diagonal", -1, -1, score_pointers(diagonal(pairs), pairs, roles)))
    table = pd.DataFrame(rows, columns=["kind", "layer", "head", "correct"])
    table["total"] = total
    return table.sort_values(
        ["correct", "layer", "head"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)


def _axis(tokens: list[str], special: list[bool]):
    from attnbook.maps import TokenAxis

    word_ids: list[int | None] = []
    words: list[str] = []
    for t, sp in zip(tokens, special, strict=True):
        word_ids.append(None if sp else len(words))
        if not sp:
            words.append(t)
    roles: list[str | None] = ["bos" if sp else None for sp in special]
    return TokenAxis(tokens, word_ids, words, torch.tensor(special, dtype=torch.bool), roles)


@torch.no_grad()
def seq2seq_maps(model: ToyEncoderDecoder, pair: Pair):
    """The translator's three attentions on one pair, as an :class:`attnbook.Seq2SeqMaps`.

    Under teacher forcing, as :func:`attnbook.attend_seq2seq` does for a real
    model: the decoder's tokens (the cross map's rows) are the start token of
    the pair's order, then the Japanese words, so row ``i`` reads word ``i - 1``
    while it writes word ``i`` (the last row writes ``[EOS]``). The English
    words are the columns. Layers and heads 0-indexed.

    >>> from attnbook.toy.parallel import pair
    >>> net = ToyEncoderDecoder(len(VOCAB_SEQ), MAX_LEN, 16, 1, 2, 32, seed=0)
    >>> maps = seq2seq_maps(net, pair("the dog chased the cat", "猫 を 犬 が 追う"))
    >>> maps.target_tokens, tuple(maps.cross.attentions.shape)
    (['[OSV]', '猫', 'を', '犬', 'が', '追う'], (1, 2, 6, 5))
    """
    from attnbook.maps import AttentionMaps
    from attnbook.seq2seq import Seq2SeqMaps

    if not isinstance(pair, Pair):
        raise ToyGrammarError(
            f"seq2seq_maps needs one Pair (attnbook.toy.parallel.pair), got {type(pair).__name__}"
        )
    src, inp, _ = encode_pairs([pair])
    out = model(src, inp)
    source = _axis(list(pair.source.tokens), [False] * len(pair.source))
    dec_tokens = [START[pair.order], *pair.target.tokens]
    decoder = _axis(dec_tokens, [True] + [False] * len(pair.target))
    name = "attnbook toy translator"

    def maps(att, query, key, causal, text):
        return AttentionMaps(
            attentions=att[0].detach().clone(), query=query, key=key, model_id=name,
            text=text, causal=causal,
        )  # fmt: skip

    return Seq2SeqMaps(
        encoder=maps(out.encoder_attentions, source, source, False, pair.source.text),
        decoder=maps(out.decoder_attentions, decoder, decoder, True, pair.target.text),
        cross=maps(out.cross_attentions, decoder, source, False, pair.source.text),
        model_id=name,
    )
