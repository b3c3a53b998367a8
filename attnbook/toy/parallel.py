"""Parallel English/Japanese sentence pairs of the toy grammar, with the gold word alignment.

Both sentences of a :class:`Pair` describe one event (who did what to
whom, with which adjectives and adverb): the English one in SVO order, the
Japanese one in SOV order or, scrambled, in OSV order (object + を first).
For every Japanese word the pair records the position of the English word it
translates -- its **gold alignment**:

* the subject's noun and its particle が ↔ the English subject's noun,
* the object's noun and its particle を ↔ the English object's noun,
* the verb ↔ the verb, an adverb ↔ the adverb,
* each adjective ↔ the same adjective in the same noun phrase.

English ``the`` has no Japanese counterpart, so no Japanese word aligns to it.

>>> p = pair("the big dog chased the cat", "猫 を 大きい 犬 が 追う")
>>> [(w, p.source.tokens[i]) for w, i in zip(p.target.tokens, p.alignment)]
[('猫', 'cat'), ('を', 'cat'), ('大きい', 'big'), ('犬', 'dog'), ('が', 'dog'), ('追う', 'chased')]
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from attnbook.toy.grammar import (
    ADJECTIVE_COUNTS,
    ADJECTIVES,
    ADVERB_PROB,
    ADVERBS,
    GA,
    NOUNS,
    THE,
    VERBS,
    WO,
    Sentence,
    ToyGrammarError,
    _held_out,
    _pick_triple,
    parse,
)

__all__ = ["ROLES", "Pair", "generate_pairs", "make_pair_split", "pair"]

ROLES: tuple[str, ...] = ("subject", "が", "object", "を", "verb", "adjective", "adverb")
"""The kinds of Japanese words, as :attr:`Pair.roles` names them."""

_EN = {**{n.ja: n.en for n in NOUNS}, **dict((j, e) for e, j in ADJECTIVES)}
_EN.update((j, e) for e, j in ADVERBS)


@dataclass(frozen=True)
class Pair:
    """An English sentence, its Japanese translation and the gold word alignment.

    Attributes:
        source: the English sentence (``order == "SVO"``).
        target: the Japanese sentence (``"SOV"`` or ``"OSV"``).
        alignment: for each Japanese word (``len(target)`` entries), the
            0-indexed position of the English word it translates.
        roles: for each Japanese word, its kind (one of :data:`ROLES`).
    """

    source: Sentence
    target: Sentence
    alignment: tuple[int, ...]
    roles: tuple[str, ...]

    @property
    def order(self) -> str:
        """The Japanese word order, ``"SOV"`` or ``"OSV"``."""
        return self.target.order


def pair(english: str, japanese: str) -> Pair:
    """The :class:`Pair` of two toy sentences that say the same thing.

    Raises:
        ToyGrammarError: a sentence is not in the toy grammar, the first is
            not English or the second not Japanese, or they describe different
            events (another noun, verb, adjective or adverb).
    """
    en, ja = parse(english), parse(japanese)
    if en.lang != "en" or ja.lang != "ja":
        raise ToyGrammarError(
            f"pair(english, japanese) needs an English then a Japanese sentence, got "
            f"{en.lang!r} and {ja.lang!r}"
        )
    alignment, roles = [], []
    adverb_en = en.verb - 1 if en.verb - 1 > en.subject else None
    phrases = {"subject": en.phrase("subject"), "object": en.phrase("object")}
    for j, word in enumerate(ja.tokens):
        i: int | None  # the English token aligned with Japanese token j
        if j == ja.verb:
            role, i = "verb", en.verb
        elif word in (GA, WO):
            role = "が" if word == GA else "を"
            i = en.subject if word == GA else en.object
        elif j in (ja.subject, ja.object):
            role = "subject" if j == ja.subject else "object"
            i = getattr(en, role)
        elif j == ja.verb - 1 and _EN.get(word) in {a for a, _ in ADVERBS}:
            role, i = "adverb", adverb_en
        else:  # an adjective: find it in the English noun phrase of the same argument
            owner = "subject" if j in ja.phrase("subject") else "object"
            role = "adjective"
            matches = [k for k in phrases[owner] if en.tokens[k] == _EN[word]]
            i = matches[0] if matches else None
        if i is None or (role != "adjective" and _EN.get(word, en.tokens[i]) != en.tokens[i]):
            raise _mismatch(en, ja, word)
        alignment.append(i)
        roles.append(role)
    if en.tokens[en.verb] != _verb_en(ja.tokens[ja.verb]):
        raise _mismatch(en, ja, ja.tokens[ja.verb])
    translated = sorted(alignment)
    # Every English word but "the" is translated exactly once (nouns twice: noun + particle).
    expected = sorted([k for k, w in enumerate(en.tokens) if w != THE] + [en.subject, en.object])
    if translated != expected:
        raise ToyGrammarError(
            f"{english!r} and {japanese!r} do not describe the same event: some words of the "
            "English sentence have no translation in the Japanese one"
        )
    return Pair(en, ja, tuple(alignment), tuple(roles))


def _verb_en(ja: str) -> str:
    return next(v.en for v in VERBS if v.ja == ja)


def _mismatch(en: Sentence, ja: Sentence, word: str) -> ToyGrammarError:
    return ToyGrammarError(
        f"{ja.text!r} is not a translation of {en.text!r}: {word!r} has no counterpart "
        "in the same role of the English sentence"
    )


def _adjective_ids(rng: random.Random, counts: tuple[float, ...]) -> list[int]:
    k = rng.choices(range(len(counts)), weights=counts)[0]
    return rng.sample(range(len(ADJECTIVES)), k)


def _one(rng: random.Random, scrambled: float, counts: tuple[float, ...], adverb: float) -> Pair:
    verb, subj, obj = _pick_triple(rng)
    subj_adj, obj_adj = _adjective_ids(rng, counts), _adjective_ids(rng, counts)
    adv = [rng.randrange(len(ADVERBS))] if rng.random() < adverb else []
    osv = rng.random() < scrambled
    # Build both sentences word by word, recording each Japanese word's English position.
    en: list[str] = []
    links: dict[str, list[tuple[str, str, int]]] = {"subject": [], "object": [], "verb": []}

    def noun_phrase(role: str, noun, adjs: list[int]) -> None:
        en.append(THE)
        for a in adjs:
            links[role].append((ADJECTIVES[a][1], "adjective", len(en)))
            en.append(ADJECTIVES[a][0])
        particle = GA if role == "subject" else WO
        links[role] += [(noun.ja, role, len(en)), (particle, particle, len(en))]
        en.append(noun.en)

    noun_phrase("subject", subj, subj_adj)
    for a in adv:
        links["verb"].append((ADVERBS[a][1], "adverb", len(en)))
        en.append(ADVERBS[a][0])
    links["verb"].append((verb.ja, "verb", len(en)))
    en.append(verb.en)
    noun_phrase("object", obj, obj_adj)
    first, second = ("object", "subject") if osv else ("subject", "object")
    ja = links[first] + links[second] + links["verb"]
    words = tuple(w for w, _, _ in ja)
    n_subj, n_obj = len(links["subject"]), len(links["object"])
    if osv:
        s_pos, o_pos = n_obj + n_subj - 2, n_obj - 2
    else:
        s_pos, o_pos = n_subj - 2, n_subj + n_obj - 2
    v = en.index(verb.en)
    source = Sentence(tuple(en), "en", "SVO", v, v - 1 - len(adv), len(en) - 1)
    target = Sentence(words, "ja", "OSV" if osv else "SOV", len(words) - 1, s_pos, o_pos)
    return Pair(source, target, tuple(i for _, _, i in ja), tuple(r for _, r, _ in ja))


def generate_pairs(
    n: int,
    seed: int,
    *,
    scrambled: float = 0.5,
    adjectives: tuple[float, ...] = ADJECTIVE_COUNTS,
    adverb: float = ADVERB_PROB,
) -> list[Pair]:
    """``n`` random translation pairs; the same arguments always give the same pairs.

    Args:
        n: how many pairs.
        seed: seeds a private :class:`random.Random`; no global state is touched.
        scrambled: probability that the Japanese side is in OSV order.
        adjectives, adverb: as in :func:`attnbook.toy.generate`.

    >>> [p.order for p in generate_pairs(4, seed=1, scrambled=1.0)]
    ['OSV', 'OSV', 'OSV', 'OSV']
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ToyGrammarError(f"n must be a non-negative int, got {n!r}")
    for name, p in (("scrambled", scrambled), ("adverb", adverb)):
        if not 0.0 <= p <= 1.0:
            raise ToyGrammarError(f"{name} is a probability in [0, 1], got {p!r}")
    if (
        not adjectives
        or len(adjectives) > 3
        or any(w < 0 for w in adjectives)
        or not sum(adjectives)
    ):
        raise ToyGrammarError(
            f"adjectives must be 1..3 non-negative weights with a positive sum (for 0, 1, 2 "
            f"adjectives per noun), got {adjectives!r}"
        )
    rng = random.Random(seed)
    return [_one(rng, scrambled, tuple(adjectives), adverb) for _ in range(n)]


def make_pair_split(
    n_train: int, n_test: int, seed: int, **kwargs
) -> tuple[list[Pair], list[Pair]]:
    """Training pairs and held-out pairs whose English sentence never occurs in training.

    The held-out pairs come from other random streams (``seed + 1_000_003``
    onwards); a pair whose English side is in the training set is skipped,
    whatever its Japanese word order, so every held-out sentence is new to the
    model. Keyword arguments go to :func:`generate_pairs`.

    >>> train, test = make_pair_split(300, 40, seed=0)
    >>> bool({p.source.text for p in train} & {p.source.text for p in test})
    False
    """
    train = generate_pairs(n_train, seed, **kwargs)
    test = _held_out(
        lambda n, stream: generate_pairs(n, stream, **kwargs),
        lambda p: p.source.text,
        {p.source.text for p in train},
        n_test,
        seed,
    )
    if test is not None:
        return train, test
    raise ToyGrammarError(
        f"could not find {n_test} held-out pairs unseen in {n_train} training pairs; "
        "ask for fewer held-out pairs or a smaller training set"
    )
