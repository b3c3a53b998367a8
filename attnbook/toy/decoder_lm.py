"""A toy GPT: :class:`~attnbook.toy.ToyDecoder` trained to predict the next word of toy sentences.

The sentences are those of :mod:`attnbook.toy.grammar`, each framed by a start
token ``<s>`` and an end token ``</s>`` (appended to the grammar's
vocabulary: :data:`LM_VOCAB`). Training is GPT-style: at every position the
model scores the word that comes next, and the loss is the cross-entropy of
the true next word, averaged over all real positions of a batch. Held-out
quality is measured on test sentences the training corpus does not contain
(:func:`next_word_scores`: loss and next-word accuracy), next to a bigram
baseline that knows only the previous word (:func:`bigram_scores`).

:func:`load_or_train_decoder` trains once and caches the weights on disk
like the toy encoder (``$ATTNBOOK_CACHE``, checksummed, keyed by the
configuration and the source code); the same seed gives the same weights
hash. ``DecoderConfig(num_kv_heads=...)`` trains a grouped-query (or, with
1, multi-query) variant.

:func:`generate` continues a prompt greedily, one token at a time, either
with one :class:`~attnbook.KVCache` per layer or recomputing the whole
prefix at every step, and records each step's logits and time.

>>> result = load_or_train_decoder(DecoderConfig(num_kv_heads=2))  # doctest: +SKIP
>>> result.test_accuracy, result.model.num_kv_heads  # doctest: +SKIP
(0.6..., 2)
>>> config = DecoderConfig(steps=2, n_train=200, n_test=50, d_model=16, num_heads=2)
>>> tiny = train_decoder(config)
>>> tiny.model.num_layers, len(tiny.losses), 0.0 <= tiny.test_accuracy <= 1.0
(2, 2, True)
>>> out = generate(tiny.model, encode_words("the dog"), 3)
>>> len(out.ids) - len(out.prompt), tuple(out.logits.shape) == (3, len(LM_VOCAB))
(3, True)

Layers and heads are 0-indexed.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.mechanism import KVCache
from attnbook.toy import cache as _cache
from attnbook.toy import training
from attnbook.toy.grammar import VOCAB, Sentence, ToyGrammarError, make_split
from attnbook.toy.model import MASK_ID, PAD_ID, ToyDecoder
from attnbook.toy.training import weights_hash

__all__ = [
    "BOS",
    "BOS_ID",
    "EOS",
    "EOS_ID",
    "LM_VOCAB",
    "DecoderConfig",
    "DecoderResult",
    "Generation",
    "bigram_scores",
    "decode",
    "decoder_cache_path",
    "encode_lm",
    "encode_words",
    "generate",
    "load_or_train_decoder",
    "next_word_scores",
    "train_decoder",
]

BOS, EOS = "<s>", "</s>"
LM_VOCAB: tuple[str, ...] = (*VOCAB, BOS, EOS)
"""The grammar's vocabulary with ``<s>`` and ``</s>`` at the end (``[MASK]`` is never used)."""
BOS_ID, EOS_ID = len(VOCAB), len(VOCAB) + 1
MAX_LEN = 12  # the longest toy sentence (10 words) with <s> and </s>
_IDS = {w: i for i, w in enumerate(LM_VOCAB)}


@dataclass(frozen=True)
class DecoderConfig:
    """Everything that determines one trained toy decoder.

    The defaults need about 7 s of CPU time on one thread, data included
    (``benchmarks/bench_toy.py`` checks that training stays under 60 s).
    """

    seed: int = 0
    # model
    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int | None = None  # None (or num_heads, stored as None): ordinary MHA
    d_ff: int = 128
    # data
    n_train: int = 20_000
    n_test: int = 1_000
    scrambled: float = 0.5  # share of Japanese sentences in OSV order
    # optimisation
    steps: int = 400
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.01

    def __post_init__(self) -> None:
        for name in ("d_model", "num_layers", "num_heads", "n_train", "n_test", "steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ToyGrammarError(f"DecoderConfig.{name} must be a positive int, got {value!r}")
        for name in ("d_ff", "warmup"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ToyGrammarError(f"DecoderConfig.{name} must be an int >= 0, got {value!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ToyGrammarError(
                f"DecoderConfig.batch_size must be a positive int, got {self.batch_size!r}"
            )
        if self.d_model % self.num_heads:
            raise ToyGrammarError(
                f"DecoderConfig.d_model ({self.d_model}) must be divisible by num_heads "
                f"({self.num_heads})"
            )
        kv = self.num_kv_heads
        if kv is not None and (
            not isinstance(kv, int) or isinstance(kv, bool) or kv < 1 or self.num_heads % kv
        ):
            raise ToyGrammarError(
                f"DecoderConfig.num_kv_heads must be None or a positive divisor of num_heads "
                f"({self.num_heads}), got {kv!r}"
            )
        if kv == self.num_heads:  # the same model as None: one config, one cache file
            object.__setattr__(self, "num_kv_heads", None)
        if not 0.0 <= self.scrambled <= 1.0:
            raise ToyGrammarError(
                f"DecoderConfig.scrambled is a probability in [0, 1], got {self.scrambled!r}"
            )

    def replace(self, **changes) -> DecoderConfig:
        """A copy with some fields changed, e.g. ``config.replace(num_kv_heads=1)``."""
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A 16-hex-digit hash of this configuration and the code that trains it."""
        return _cache.config_key(self, "grammar.py", "model.py", "train.py", "decoder_lm.py")

    def build(self) -> ToyDecoder:
        """The untrained model of this configuration (the same seed, the same weights)."""
        return ToyDecoder(
            len(LM_VOCAB),
            MAX_LEN,
            self.d_model,
            self.num_layers,
            self.num_heads,
            self.d_ff,
            seed=self.seed,
            num_kv_heads=self.num_kv_heads,
        )


@dataclass
class DecoderResult:
    """A trained toy decoder.

    Attributes:
        config: what was trained.
        model: the :class:`~attnbook.toy.ToyDecoder`, in eval mode.
        losses: the next-word cross-entropy of every training step.
        test_loss: mean next-word cross-entropy (nats) on the held-out sentences.
        test_accuracy: share of held-out next words that are the model's top guess.
        weights_hash: SHA-256 of the final weights.
        seconds: wall-clock training time (of the original run, if cached).
        from_cache: whether the weights were loaded rather than trained now.
    """

    config: DecoderConfig
    model: ToyDecoder
    losses: list[float]
    test_loss: float
    test_accuracy: float
    weights_hash: str
    seconds: float
    from_cache: bool = False

    def sentences(self) -> tuple[list[Sentence], list[Sentence]]:
        """The (training, held-out test) sentences, regenerated from the config."""
        train_set, test_set, _ = _data(self.config)
        return list(train_set), list(test_set)


def encode_words(text: str | Sequence[str], *, end: bool = False) -> Tensor:
    """``<s>`` and the ids of ``text``'s words (``[T]``), with ``</s>`` if ``end``.

    >>> [LM_VOCAB[i] for i in encode_words("the dog").tolist()]
    ['<s>', 'the', 'dog']
    """
    words = text.split() if isinstance(text, str) else list(text)
    unknown = [w for w in words if w not in _IDS or _IDS[w] <= 1]
    if unknown:
        raise ToyGrammarError(
            f"unknown words {unknown}; the toy vocabulary is attnbook.toy.VOCAB[2:]"
        )
    ids = [BOS_ID, *(_IDS[w] for w in words)] + ([EOS_ID] if end else [])
    return torch.tensor(ids, dtype=torch.long)


def encode_lm(sentences: Sequence[Sentence], length: int = MAX_LEN) -> Tensor:
    """``[N, length]`` ids: ``<s>``, the words, ``</s>``, then ``PAD_ID``.

    >>> from attnbook.toy.grammar import parse
    >>> ids = encode_lm([parse("犬 が 猫 を 追う")], length=8)
    >>> [LM_VOCAB[i] for i in ids[0].tolist()]
    ['<s>', '犬', 'が', '猫', 'を', '追う', '</s>', '[PAD]']
    """
    if not sentences:
        raise ToyGrammarError("no sentences to encode")
    longest = max(len(s) for s in sentences) + 2
    if length < longest:
        raise ToyGrammarError(f"length={length} is shorter than the longest framed sentence")
    ids = torch.full((len(sentences), length), PAD_ID, dtype=torch.long)
    for i, s in enumerate(sentences):
        ids[i, : len(s) + 2] = encode_words(s.tokens, end=True)
    return ids


def decode(ids: Tensor | Sequence[int]) -> list[str]:
    """The words of ``ids`` (``[T]``), ``<s>``/``</s>`` included."""
    return [LM_VOCAB[int(i)] for i in ids]


@torch.no_grad()
def next_word_scores(model: ToyDecoder, ids: Tensor) -> tuple[float, float]:
    """``(loss, accuracy)`` of next-word prediction on ``ids`` ``[N, T]``.

    Every real position ``p >= 1`` (not padding) is a target, predicted from
    ``logits[:, p - 1]``: the words and ``</s>``, never ``<s>``. The loss is the
    mean cross-entropy in nats, the accuracy the share of targets that are
    the model's top-scored word.
    """
    was_training = model.training
    model.eval()
    try:
        logits = model(ids).logits[:, :-1]  # [N, T-1, V]
    finally:
        model.train(was_training)
    targets = ids[:, 1:]
    real = targets != PAD_ID
    loss = F.cross_entropy(logits[real], targets[real]).item()
    accuracy = (logits[real].argmax(-1) == targets[real]).double().mean().item()
    return loss, accuracy


def bigram_scores(train_ids: Tensor, test_ids: Tensor) -> tuple[float, float]:
    """``(loss, accuracy)`` of a bigram model counted on ``train_ids``, scored on ``test_ids``.

    The baseline knows only the previous word: it predicts the next word from
    counts of word pairs in the training sequences (add-one smoothing over
    the vocabulary for the loss). Same targets as :func:`next_word_scores`.

    >>> ids = torch.tensor([[BOS_ID, 2, 3, EOS_ID]])
    >>> bigram_scores(ids, ids)[1]  # every pair seen: each next word is the top guess
    1.0
    """
    v = len(LM_VOCAB)
    counts = torch.zeros(v, v, dtype=torch.float64)
    prev, nxt = train_ids[:, :-1], train_ids[:, 1:]
    real = nxt != PAD_ID
    counts.index_put_(
        (prev[real], nxt[real]), torch.ones(int(real.sum()), dtype=torch.float64), accumulate=True
    )
    probs = (counts + 1.0) / (counts + 1.0).sum(dim=1, keepdim=True)
    prev, nxt = test_ids[:, :-1], test_ids[:, 1:]
    real = nxt != PAD_ID
    p, n = prev[real], nxt[real]
    loss = -probs[p, n].log().mean().item()
    accuracy = (counts[p].argmax(dim=1) == n).double().mean().item()
    return loss, accuracy


def train_decoder(
    config: DecoderConfig | None = None, *, num_threads: int | None = None
) -> DecoderResult:
    """Train a toy decoder by next-word prediction (always trains; see :func:`load_or_train_decoder`).

    All randomness (initial weights, batches) comes from generators seeded by
    ``config.seed``; the global torch RNG is untouched.

    Args:
        config: what to train; defaults to ``DecoderConfig()``.
        num_threads: if given, ``torch.set_num_threads`` while training (restored afterwards).
    """
    config = DecoderConfig() if config is None else config
    if not isinstance(config, DecoderConfig):
        raise ToyGrammarError(f"config must be a DecoderConfig, got {type(config).__name__}")
    with training.threads(num_threads):
        return _train(config)


def _data(config: DecoderConfig) -> tuple[list[Sentence], list[Sentence], Tensor]:
    """The (training, test) sentences of ``config`` and the training ids (not to be modified)."""
    return _cached_data(config.n_train, config.n_test, config.seed, config.scrambled)


# Chapter 14 trains three variants per seed on the same sentences: split and encode them once.
@functools.lru_cache(maxsize=4)
def _cached_data(n_train: int, n_test: int, seed: int, scrambled: float):
    train_set, test_set = make_split(n_train, n_test, seed, scrambled=scrambled)
    return train_set, test_set, encode_lm(train_set)


def _train(config: DecoderConfig) -> DecoderResult:
    start = time.perf_counter()
    _, test_set, ids = _data(config)
    model = config.build()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    gen = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    model.train()
    for step in range(config.steps):
        batch = training.trim_padding(
            ids[torch.randint(len(ids), (config.batch_size,), generator=gen)]
        )
        logits = model(batch).logits[:, :-1]
        targets = batch[:, 1:]
        real = targets != PAD_ID
        loss = F.cross_entropy(logits[real], targets[real])
        losses.append(training.optimizer_step(optimizer, loss, training.lr_at(step, config)))
    model.eval()
    test_loss, test_accuracy = next_word_scores(model, encode_lm(test_set))
    return DecoderResult(
        config=config,
        model=model,
        losses=losses,
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        weights_hash=weights_hash(model),
        seconds=time.perf_counter() - start,
    )


def decoder_cache_path(config: DecoderConfig, directory: str | os.PathLike | None = None) -> Path:
    """Where :func:`load_or_train_decoder` keeps the model of ``config``."""
    return training.cache_file("decoder", config, directory)


def _load(path: Path, config: DecoderConfig) -> DecoderResult | None:
    def rebuild(stored: dict) -> DecoderResult:
        model = config.build()
        model.load_state_dict(stored["state_dict"])
        model.eval()
        return DecoderResult(
            config=config,
            model=model,
            losses=stored["losses"].tolist(),
            test_loss=float(stored["test_loss"]),
            test_accuracy=float(stored["test_accuracy"]),
            weights_hash=stored["weights_hash"],
            seconds=float(stored["seconds"]),
            from_cache=True,
        )

    return training.load_cached(path, config, rebuild, "a toy decoder of this version")


def load_or_train_decoder(
    config: DecoderConfig | None = None,
    *,
    cache: str | os.PathLike | None = None,
    num_threads: int | None = None,
) -> DecoderResult:
    """The trained decoder of ``config``: from the cache if possible, else trained and cached.

    Args:
        config: defaults to ``DecoderConfig()``.
        cache: cache directory; defaults to :func:`attnbook.toy.cache_dir`.
        num_threads: passed to :func:`train_decoder` on a cache miss.
    """
    config = DecoderConfig() if config is None else config
    if not isinstance(config, DecoderConfig):
        raise ToyGrammarError(f"config must be a DecoderConfig, got {type(config).__name__}")
    path = decoder_cache_path(config, cache)
    cached = _load(path, config)
    if cached is not None:
        return cached
    result = train_decoder(config, num_threads=num_threads)
    _cache.write(
        path,
        training.payload(result, test_loss=result.test_loss, test_accuracy=result.test_accuracy),
    )
    return result


# ---------------------------------------------------------------------------
# generation


@dataclass(frozen=True)
class Generation:
    """What :func:`generate` returns.

    Attributes:
        prompt: ``[P]`` the prompt's ids.
        ids: ``[P + N]`` the prompt followed by the ``N`` generated ids.
        logits: ``[N, V]`` the scores from which each new id was chosen.
        seconds: ``N`` wall-clock times, one per generated token (the first
            includes reading the prompt).
        cached: whether a KV cache was used.
    """

    prompt: Tensor
    ids: Tensor
    logits: Tensor
    seconds: list[float]
    cached: bool


@torch.no_grad()
def generate(
    model: ToyDecoder,
    prompt: Tensor | Sequence[int],
    new_tokens: int,
    *,
    use_cache: bool = True,
    stop: int | None = None,
) -> Generation:
    """Continue ``prompt`` greedily (the top-scored token each time) by ``new_tokens`` tokens.

    Padding, ``[MASK]`` and ``<s>`` are never chosen; ``logits`` records the
    model's scores as they are.

    With ``use_cache`` every layer keeps a :class:`~attnbook.KVCache`: the
    prompt is read once, then each step runs only the newest token through
    the model. Without it, every step runs the whole sequence so far and
    keeps the last position's logits. Both give the same logits (up to float
    rounding): a causal layer's output at a position never depends on later
    positions. ``stop``: end early after generating this id (e.g. ``EOS_ID``).

    Args:
        model: a :class:`~attnbook.toy.ToyDecoder` (its ``max_len`` must cover
            the prompt and the new tokens).
        prompt: ``[P]`` token ids, ``P >= 1``, no padding.
        new_tokens: how many tokens to generate (``N >= 1``).
    """
    if not isinstance(model, ToyDecoder):
        raise ToyGrammarError(f"generate needs a ToyDecoder, got {type(model).__name__}")
    prompt = torch.as_tensor(prompt, dtype=torch.long).reshape(-1)
    if not isinstance(new_tokens, int) or new_tokens < 1 or len(prompt) < 1:
        raise ToyGrammarError(
            f"give a prompt of at least one token and new_tokens >= 1; got {len(prompt)} prompt "
            f"tokens and new_tokens={new_tokens!r}"
        )
    if len(prompt) + new_tokens > model.max_len:
        raise ToyGrammarError(
            f"{len(prompt)} prompt tokens + {new_tokens} new tokens exceed the model's "
            f"max_len={model.max_len}; generate fewer tokens or build a model with a longer context"
        )
    was_training = model.training
    model.eval()
    ids = prompt[None]  # [1, T]
    caches = [KVCache() for _ in range(model.num_layers)] if use_cache else None
    step_logits, seconds = [], []
    pending = ids  # what the next forward pass must read
    # Padding, [MASK] and <s> are never generated (a model that is not trained may score them top).
    never = torch.zeros(model.out.out_features, dtype=torch.bool)
    never[[i for i in (PAD_ID, MASK_ID, BOS_ID) if i < len(never)]] = True
    try:
        for _ in range(new_tokens):
            begin = time.perf_counter()
            if caches is not None:
                last = model(pending, caches=caches).logits[0, -1]
            else:
                last = model(ids).logits[0, -1]
            token = last.masked_fill(never, float("-inf")).argmax()[None, None]
            ids = torch.cat([ids, token], dim=1)
            pending = token
            seconds.append(time.perf_counter() - begin)
            step_logits.append(last)
            if stop is not None and int(token) == stop:
                break
    finally:
        model.train(was_training)
    return Generation(
        prompt=prompt,
        ids=ids[0],
        logits=torch.stack(step_logits),
        seconds=seconds,
        cached=use_cache,
    )
