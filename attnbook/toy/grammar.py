"""A bilingual toy grammar whose structure is known exactly.

English sentences are subject-verb-object (``the big dog chased the cat``);
Japanese sentences are subject-object-verb with case particles
(``犬 が 猫 を 追う``) or, scrambled, object-subject-verb
(``猫 を 犬 が 追う``): the particle が marks the subject and を the
object, wherever they stand. Optional adjectives before each noun and an
optional adverb before the verb (``the dog quickly chased the cat``,
``犬 が 猫 を すばやく 追う``) make the distance between a verb and its
arguments vary, so no fixed offset finds them every time.

Verbs impose **selectional restrictions** on their arguments (only animate
things chase, only food is eaten, only people read, ...). A model that must
guess a masked word therefore has to know which noun is the verb's subject
and which its object: exactly the relation the book then looks for in the
attention heads.

Every :class:`Sentence` carries its gold structure: the 0-indexed positions
of the verb, the subject's head noun and the object's head noun. Tokens are
whole words separated by spaces; both languages share one small vocabulary
(:data:`VOCAB`).

>>> s = generate(1, seed=3)[0]
>>> s.tokens[s.verb] in VERBS_EN + VERBS_JA
True
>>> parse("猫 を 犬 が 追う")
Sentence(tokens=('猫', 'を', '犬', 'が', '追う'), lang='ja', order='OSV', verb=4, subject=2, object=0)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from attnbook.errors import AttnbookError

__all__ = [
    "ADJECTIVES",
    "ADVERBS",
    "GROUPS",
    "MASK",
    "NOUNS",
    "PAD",
    "VERBS",
    "VERBS_EN",
    "VERBS_JA",
    "VOCAB",
    "Noun",
    "Sentence",
    "ToyGrammarError",
    "Verb",
    "allowed_objects",
    "allowed_subjects",
    "generate",
    "make_split",
    "parse",
]


class ToyGrammarError(AttnbookError, ValueError):
    """A sentence or argument that the toy grammar does not accept."""


@dataclass(frozen=True)
class Noun:
    """A noun with its English and Japanese form and its semantic classes."""

    en: str
    ja: str
    classes: frozenset[str]


@dataclass(frozen=True)
class Verb:
    """A verb and the classes its subject and object must belong to."""

    en: str  # simple past, as in "the dog chased the cat"
    ja: str  # dictionary form, as in 「犬 が 猫 を 追う」
    subject: frozenset[str]  # the subject needs at least one of these classes
    object: frozenset[str]  # the object needs at least one of these classes


def _classes(*names: str) -> frozenset[str]:
    return frozenset(names)


NOUNS: tuple[Noun, ...] = (
    Noun("dog", "犬", _classes("animate", "animal")),
    Noun("cat", "猫", _classes("animate", "animal")),
    Noun("bird", "鳥", _classes("animate", "animal")),
    Noun("boy", "少年", _classes("animate", "human")),
    Noun("girl", "少女", _classes("animate", "human")),
    Noun("teacher", "先生", _classes("animate", "human")),
    Noun("apple", "りんご", _classes("food")),
    Noun("bread", "パン", _classes("food")),
    Noun("water", "水", _classes("drink")),
    Noun("milk", "牛乳", _classes("drink")),
    Noun("book", "本", _classes("text")),
    Noun("letter", "手紙", _classes("text")),
    Noun("ball", "ボール", _classes("toy")),
)
"""The nouns. ``animate`` things chase, eat, drink and see; only ``human`` ones read, kick
and call, only animals bite."""

VERBS: tuple[Verb, ...] = (
    Verb("chased", "追う", _classes("animate"), _classes("animate")),
    Verb("ate", "食べる", _classes("animate"), _classes("food")),
    Verb("drank", "飲む", _classes("animate"), _classes("drink")),
    Verb("read", "読む", _classes("human"), _classes("text")),
    Verb("kicked", "蹴る", _classes("human"), _classes("toy")),
    Verb("bit", "噛む", _classes("animal"), _classes("human", "toy")),
    Verb("called", "呼ぶ", _classes("human"), _classes("animate")),
    Verb("saw", "見る", _classes("animate"), _classes("animate", "food", "drink", "text", "toy")),
)
"""The verbs with their selectional restrictions (subject classes, object classes)."""

ADJECTIVES: tuple[tuple[str, str], ...] = (
    ("big", "大きい"),
    ("small", "小さい"),
    ("old", "古い"),
    ("white", "白い"),
)
"""Adjectives as (English, Japanese); they go with any noun and only change distances."""

ADVERBS: tuple[tuple[str, str], ...] = (
    ("quickly", "すばやく"),
    ("suddenly", "突然"),
    ("often", "よく"),
)
"""Adverbs as (English, Japanese); at most one, right before the verb, so that no
argument is at a fixed distance from the verb."""

PAD = "[PAD]"
MASK = "[MASK]"
THE = "the"
GA = "が"  # marks the subject
WO = "を"  # marks the object

VERBS_EN: tuple[str, ...] = tuple(v.en for v in VERBS)
VERBS_JA: tuple[str, ...] = tuple(v.ja for v in VERBS)

VOCAB: tuple[str, ...] = (
    (PAD, MASK, THE, GA, WO)
    + tuple(n.en for n in NOUNS)
    + tuple(n.ja for n in NOUNS)
    + VERBS_EN
    + VERBS_JA
    + tuple(a for a, _ in ADJECTIVES)
    + tuple(a for _, a in ADJECTIVES)
    + tuple(a for a, _ in ADVERBS)
    + tuple(a for _, a in ADVERBS)
)
"""The shared vocabulary; a word's id is its index. ``[PAD]`` is 0 and ``[MASK]`` is 1."""

GROUPS: tuple[str, ...] = ("en-SVO", "ja-SOV", "ja-OSV")
"""The three (language, word order) groups, as ``Sentence.group`` spells them."""

# Default probabilities of 0, 1 and 2 adjectives in front of a noun.
ADJECTIVE_COUNTS = (0.5, 0.3, 0.2)
# Default probability of an adverb before the verb.
ADVERB_PROB = 0.3


@dataclass(frozen=True)
class Sentence:
    """One toy sentence with its gold structure.

    Attributes:
        tokens: the words, in order.
        lang: ``"en"`` or ``"ja"``.
        order: ``"SVO"`` (English), ``"SOV"`` or ``"OSV"`` (Japanese, scrambled).
        verb: position of the verb (0-indexed).
        subject: position of the subject's head noun.
        object: position of the object's head noun.
    """

    tokens: tuple[str, ...]
    lang: str
    order: str
    verb: int
    subject: int
    object: int

    @property
    def text(self) -> str:
        """The sentence as space-separated words."""
        return " ".join(self.tokens)

    @property
    def group(self) -> str:
        """``"en-SVO"``, ``"ja-SOV"`` or ``"ja-OSV"``."""
        return f"{self.lang}-{self.order}"

    def __len__(self) -> int:
        return len(self.tokens)

    def phrase(self, role: str) -> range:
        """Positions of the whole argument phrase of ``role`` (``"subject"`` or ``"object"``).

        English: determiner, adjectives and noun (``the big dog``). Japanese:
        adjectives, noun and case particle (``大きい 犬 が``), the unit
        (bunsetsu) a Japanese verb depends on.

        >>> s = parse("白い 猫 を 大きい 犬 が 追う")
        >>> [s.tokens[i] for i in s.phrase("subject")]
        ['大きい', '犬', 'が']
        """
        if role not in ("subject", "object"):
            raise ToyGrammarError(f"role must be 'subject' or 'object', got {role!r}")
        noun = getattr(self, role)
        if self.lang == "en":
            start = 0 if role == "subject" else self.verb + 1
            return range(start, noun + 1)
        other = self.object if role == "subject" else self.subject
        # The phrase starts right after the other argument's particle, if that comes first.
        start = other + 2 if other < noun else 0
        return range(start, noun + 2)


def _noun(word: str) -> Noun:
    for n in NOUNS:
        if word in (n.en, n.ja):
            return n
    raise ToyGrammarError(f"{word!r} is not a noun of the toy grammar; nouns: {_noun_list()}")


def _verb(word: str) -> Verb:
    for v in VERBS:
        if word in (v.en, v.ja):
            return v
    raise ToyGrammarError(
        f"{word!r} is not a verb of the toy grammar; verbs: {', '.join(VERBS_EN + VERBS_JA)}"
    )


def _noun_list() -> str:
    return ", ".join(n.en for n in NOUNS) + ", " + ", ".join(n.ja for n in NOUNS)


def allowed_subjects(verb: str) -> list[str]:
    """English names of the nouns that may be the subject of ``verb`` (either language).

    >>> allowed_subjects("読む")
    ['boy', 'girl', 'teacher']
    """
    v = _verb(verb)
    return [n.en for n in NOUNS if n.classes & v.subject]


def allowed_objects(verb: str) -> list[str]:
    """English names of the nouns that may be the object of ``verb`` (either language).

    >>> allowed_objects("ate")
    ['apple', 'bread']
    """
    v = _verb(verb)
    return [n.en for n in NOUNS if n.classes & v.object]


def _pick_triple(rng: random.Random) -> tuple[Verb, Noun, Noun]:
    # Verb first, uniformly, so that a verb with many possible objects (saw)
    # is not more frequent than one with few (kicked).
    verb = rng.choice(VERBS)
    subj = rng.choice([n for n in NOUNS if n.classes & verb.subject])
    obj = rng.choice([n for n in NOUNS if n.classes & verb.object and n is not subj])
    return verb, subj, obj


def _adjectives(rng: random.Random, lang: str, counts: tuple[float, ...]) -> list[str]:
    k = rng.choices(range(len(counts)), weights=counts)[0]
    picked = rng.sample(range(len(ADJECTIVES)), k)
    return [ADJECTIVES[i][0 if lang == "en" else 1] for i in picked]


def _one(
    rng: random.Random, lang: str, scrambled: float, counts: tuple[float, ...], adverb: float
) -> Sentence:
    verb, subj, obj = _pick_triple(rng)
    subj_adj = _adjectives(rng, lang, counts)
    obj_adj = _adjectives(rng, lang, counts)
    i = 0 if lang == "en" else 1
    adv = [rng.choice(ADVERBS)[i]] if rng.random() < adverb else []
    if lang == "en":
        subj_np = [THE, *subj_adj, subj.en]
        obj_np = [THE, *obj_adj, obj.en]
        tokens = [*subj_np, *adv, verb.en, *obj_np]
        return Sentence(
            tuple(tokens), "en", "SVO", len(subj_np) + len(adv), len(subj_np) - 1, len(tokens) - 1
        )
    subj_np = [*subj_adj, subj.ja, GA]
    obj_np = [*obj_adj, obj.ja, WO]
    if rng.random() < scrambled:
        tokens = [*obj_np, *subj_np, *adv, verb.ja]
        o, s, order = len(obj_np) - 2, len(obj_np) + len(subj_np) - 2, "OSV"
    else:
        tokens = [*subj_np, *obj_np, *adv, verb.ja]
        s, o, order = len(subj_np) - 2, len(subj_np) + len(obj_np) - 2, "SOV"
    return Sentence(tuple(tokens), "ja", order, len(tokens) - 1, s, o)


def generate(
    n: int,
    seed: int,
    *,
    languages: tuple[str, ...] = ("en", "ja"),
    scrambled: float = 0.5,
    adjectives: tuple[float, ...] = ADJECTIVE_COUNTS,
    adverb: float = ADVERB_PROB,
) -> list[Sentence]:
    """``n`` random sentences; the same arguments always give the same sentences.

    Args:
        n: how many sentences.
        seed: seeds a private :class:`random.Random`; no global state is touched.
        languages: drawn from uniformly for each sentence (``"en"``, ``"ja"``).
        scrambled: probability that a Japanese sentence is in OSV order.
        adjectives: relative weights of 0, 1, 2, ... adjectives before each noun
            (at most ``len(ADJECTIVES) + 1`` entries).
        adverb: probability of an adverb right before the verb.

    >>> generate(2, seed=7) == generate(2, seed=7)
    True
    >>> [s.group for s in generate(6, seed=0)]  # doctest: +ELLIPSIS
    ['...', '...', '...', '...', '...', '...']
    """
    if not isinstance(n, int) or n < 0:
        raise ToyGrammarError(f"n must be a non-negative int, got {n!r}")
    bad = [lang for lang in languages if lang not in ("en", "ja")]
    if bad or not languages:
        raise ToyGrammarError(
            f"languages must be a non-empty subset of ('en', 'ja'), got {languages!r}"
        )
    if not 0.0 <= scrambled <= 1.0:
        raise ToyGrammarError(f"scrambled is a probability in [0, 1], got {scrambled!r}")
    if not 0.0 <= adverb <= 1.0:
        raise ToyGrammarError(f"adverb is a probability in [0, 1], got {adverb!r}")
    if (
        not adjectives
        or len(adjectives) > len(ADJECTIVES) + 1
        or any(w < 0 for w in adjectives)
        or sum(adjectives) <= 0
    ):
        raise ToyGrammarError(
            f"adjectives must be 1..{len(ADJECTIVES) + 1} non-negative weights with a positive "
            f"sum (for 0, 1, 2, ... adjectives), got {adjectives!r}"
        )
    rng = random.Random(seed)
    return [
        _one(rng, rng.choice(languages), scrambled, tuple(adjectives), adverb) for _ in range(n)
    ]


def make_split(
    n_train: int, n_test: int, seed: int, **kwargs
) -> tuple[list[Sentence], list[Sentence]]:
    """A training corpus and a held-out test set that shares no sentence with it.

    The test sentences come from a different random stream (``seed`` and
    ``seed + 1_000_003``); any test sentence whose text also occurs in the
    training corpus is dropped and replaced, so evaluation is on unseen sentences.
    Keyword arguments go to :func:`generate`.

    >>> train, test = make_split(200, 50, seed=0)
    >>> len(train), len(test), bool({s.text for s in train} & {s.text for s in test})
    (200, 50, False)
    """
    train = generate(n_train, seed, **kwargs)
    test = _held_out(
        lambda n, stream: generate(n, stream, **kwargs),
        lambda s: s.text,
        {s.text for s in train},
        n_test,
        seed,
    )
    if test is not None:
        return train, test
    raise ToyGrammarError(
        f"could not find {n_test} test sentences unseen in {n_train} training sentences; "
        "ask for fewer test sentences or a smaller training corpus"
    )


_T = TypeVar("_T")


def _held_out(
    draw: Callable[[int, int], list[_T]],
    text: Callable[[_T], str],
    seen: set[str],
    n: int,
    seed: int,
) -> list[_T] | None:
    """``n`` items whose ``text`` is not in ``seen`` (which grows), or ``None`` if 100 streams fall short.

    ``draw(count, stream)`` gives ``count`` random items of one stream; the
    streams are ``seed + 1_000_003``, ``seed + 1_000_004``, ... (used by
    :func:`make_split` and :func:`attnbook.toy.parallel.make_pair_split`).
    """
    found: list[_T] = []
    stream = seed + 1_000_003
    for _ in range(100):
        for item in draw(max(n, 16) * 2, stream):
            if text(item) not in seen:
                seen.add(text(item))
                found.append(item)
                if len(found) == n:
                    return found
        stream += 1
    return None


def parse(text: str) -> Sentence:
    """Read a toy sentence (space-separated words) and recover its gold structure.

    Japanese: the word before が is the subject, the word before を the object,
    the last word the verb. English: the noun before the verb (and its
    optional adverb) is the subject, the last word the object. Selectional
    restrictions are checked.

    >>> s = parse("the big dog chased the small cat")
    >>> s.order, s.tokens[s.subject], s.tokens[s.verb], s.tokens[s.object]
    ('SVO', 'dog', 'chased', 'cat')
    >>> parse("the apple ate the dog")
    Traceback (most recent call last):
    ...
    attnbook.toy.grammar.ToyGrammarError: 'apple' cannot be the subject of 'ate'; allowed: dog, cat, bird, boy, girl, teacher
    """
    tokens = tuple(text.split())
    unknown = [t for t in tokens if t not in VOCAB[2:]]
    if unknown:
        raise ToyGrammarError(
            f"unknown words {unknown}; the toy vocabulary is attnbook.toy.VOCAB[2:]"
        )
    if not tokens:
        raise ToyGrammarError("empty sentence")
    if GA in tokens or WO in tokens or tokens[-1] in VERBS_JA:
        sentence = _parse_ja(tokens)
    else:
        sentence = _parse_en(tokens)
    _check_restrictions(sentence)
    return sentence


_ADVERBS_EN = frozenset(a for a, _ in ADVERBS)
_ADVERBS_JA = frozenset(a for _, a in ADVERBS)


def _shape_error(tokens: tuple[str, ...], expected: str) -> ToyGrammarError:
    return ToyGrammarError(f"{' '.join(tokens)!r} does not have the shape {expected}")


def _noun_phrase_ok(words: tuple[str, ...], lang: str) -> bool:
    adjs = {a[0 if lang == "en" else 1] for a in ADJECTIVES}
    nouns = {n.en if lang == "en" else n.ja for n in NOUNS}
    return bool(words) and words[-1] in nouns and all(w in adjs for w in words[:-1])


def _parse_ja(tokens: tuple[str, ...]) -> Sentence:
    shape = "[adjectives] noun が [adjectives] noun を [adverb] verb (or を before が)"
    if tokens.count(GA) != 1 or tokens.count(WO) != 1 or tokens[-1] not in VERBS_JA:
        raise _shape_error(tokens, shape)
    ga, wo, v = tokens.index(GA), tokens.index(WO), len(tokens) - 1
    first, second = sorted((ga, wo))
    adverb_ok = second == v - 1 or (second == v - 2 and tokens[v - 1] in _ADVERBS_JA)
    if not adverb_ok or not (
        _noun_phrase_ok(tokens[:first], "ja") and _noun_phrase_ok(tokens[first + 1 : second], "ja")
    ):
        raise _shape_error(tokens, shape)
    return Sentence(tokens, "ja", "SOV" if ga < wo else "OSV", v, ga - 1, wo - 1)


def _parse_en(tokens: tuple[str, ...]) -> Sentence:
    shape = "the [adjectives] noun [adverb] verb the [adjectives] noun"
    verbs = [i for i, t in enumerate(tokens) if t in VERBS_EN]
    if len(verbs) != 1:
        raise _shape_error(tokens, shape)
    v = verbs[0]
    adv = 1 if v > 0 and tokens[v - 1] in _ADVERBS_EN else 0
    subj_np, obj_np = tokens[: v - adv], tokens[v + 1 :]
    if not (
        subj_np[:1] == (THE,)
        and obj_np[:1] == (THE,)
        and _noun_phrase_ok(subj_np[1:], "en")
        and _noun_phrase_ok(obj_np[1:], "en")
    ):
        raise _shape_error(tokens, shape)
    return Sentence(tokens, "en", "SVO", v, v - 1 - adv, len(tokens) - 1)


def _check_restrictions(s: Sentence) -> None:
    verb = s.tokens[s.verb]
    subj, obj = s.tokens[s.subject], s.tokens[s.object]
    if _noun(subj).en not in allowed_subjects(verb):
        raise ToyGrammarError(
            f"{subj!r} cannot be the subject of {verb!r}; allowed: "
            + ", ".join(allowed_subjects(verb))
        )
    if _noun(obj).en not in allowed_objects(verb):
        raise ToyGrammarError(
            f"{obj!r} cannot be the object of {verb!r}; allowed: "
            + ", ".join(allowed_objects(verb))
        )
    if _noun(subj) is _noun(obj):
        raise ToyGrammarError(f"subject and object are both {subj!r}; the toy grammar needs two")
