"""Induction heads: the data, the two scores (against hand-built heads and a brute-force
reference), the losses, reproducible cached training, the study's counts and its figure."""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
import torch

from attnbook.plot import PlotInputError, save
from attnbook.plot.i18n import language, translate, untranslated
from attnbook.toy import ToyCacheWarning, ToyGrammarError
from attnbook.toy.circuit import APPEARS_AT, InductionStudy, SeedInduction, induction_study
from attnbook.toy.induction import (
    BOS_ID,
    InductionConfig,
    half_losses,
    induction_targets,
    load_or_train_induction,
    prefix_matching_scores,
    previous_token_scores,
    repeated_sequences,
    skip_permutation,
    train_induction,
)
from attnbook.toy.plot import induction_emergence

TINY = InductionConfig(
    num_tokens=12,
    min_run=3,
    max_run=6,
    max_prefix=4,
    d_model=16,
    num_heads=2,
    steps=20,
    batch_size=8,
    snapshot_every=10,
    n_probe=32,
)


def _batch(seed: int = 0, n: int = 40):
    return repeated_sequences(TINY, n, torch.Generator().manual_seed(seed))


# --- data ---------------------------------------------------------------------


def test_repeated_sequences_repeat_their_run_at_varying_places():
    batch = _batch(0, 200)
    ids, run, start = batch
    assert ids.shape == (200, TINY.length) == (200, 1 + 4 + 2 * 6)
    assert (ids[:, 0] == BOS_ID).all()
    assert (ids[:, 1:] > BOS_ID).all() and (ids < TINY.vocab_size).all()
    assert int(run.min()) >= TINY.min_run and int(run.max()) <= TINY.max_run
    assert int(start.min()) >= 1 and int(start.max()) <= 1 + TINY.max_prefix
    # Both the run length and its start vary: no fixed offset or position finds the copy.
    assert set(run.tolist()) == set(range(TINY.min_run, TINY.max_run + 1))
    assert set(start.tolist()) == set(range(1, TINY.max_prefix + 2))
    for row, s, m in zip(ids, start.tolist(), run.tolist(), strict=True):
        assert s + 2 * m <= TINY.length
        assert torch.equal(row[s : s + m], row[s + m : s + 2 * m])
    # The same generator state gives the same sequences.
    assert all(torch.equal(a, b) for a, b in zip(batch, _batch(0, 200), strict=True))


def test_skip_bigram_ties_a_token_to_the_one_two_places_before():
    config = TINY.replace(skip_bigram=1.0)
    ids, run, start = repeated_sequences(config, 50, torch.Generator().manual_seed(5))
    after = skip_permutation(config)
    assert sorted(after.tolist()) == list(range(BOS_ID + 1, config.vocab_size))  # a permutation
    for row, s, m in zip(ids.tolist(), start.tolist(), run.tolist(), strict=True):
        assert row[s : s + m] == row[s + m : s + 2 * m]  # the copy still repeats the run
        for p in range(3, len(row)):
            # Outside the copy (and the two tokens after it, whose rule-giver was
            # overwritten by the copy), every token follows the rule.
            if not s + m <= p < s + 2 * m + 2:
                assert row[p] == after[row[p - 2] - BOS_ID - 1]
    half = repeated_sequences(TINY.replace(skip_bigram=0.5), 400, torch.Generator().manual_seed(6))
    follows = half.ids[:, 3:] == after[half.ids[:, 1:-2] - BOS_ID - 1]  # position p = 3 + column
    outside = torch.ones_like(follows)
    for b, (s, m) in enumerate(zip(half.start.tolist(), half.run.tolist(), strict=True)):
        outside[b, max(0, s + m - 3) : s + 2 * m - 1] = False
    # Half replaced, plus chance agreement (1 in 12) among the others: about 0.54.
    assert 0.48 < follows[outside].float().mean().item() < 0.60


# --- scores -------------------------------------------------------------------


def _previous_head(n: int, t: int) -> torch.Tensor:
    att = torch.zeros(n, t, t)
    att[:, 0, 0] = 1.0
    att[:, torch.arange(1, t), torch.arange(t - 1)] = 1.0
    return att


def _uniform(n: int, t: int) -> torch.Tensor:
    causal = torch.tril(torch.ones(t, t))
    return (causal / causal.sum(-1, keepdim=True)).expand(n, t, t)


def _induction_head(batch) -> torch.Tensor:
    n, t = batch.ids.shape
    att = torch.zeros(n, t, t)
    att[:, :, 0] = 1.0  # elsewhere: the start token
    for b, (s, m) in enumerate(zip(batch.start.tolist(), batch.run.tolist(), strict=True)):
        for i in range(m - 1):
            att[b, s + m + i] = 0.0
            att[b, s + m + i, s + i + 1] = 1.0
    return att


def _duplicate_head(batch) -> torch.Tensor:
    """Attends to the earlier copy of its own token: one position too early for induction."""
    att = _induction_head(batch)
    return torch.roll(att, shifts=-1, dims=-1) * (att.sum(-1, keepdim=True) > 0)


def test_previous_token_score_of_hand_built_heads():
    batch = _batch(1)
    n, t = batch.ids.shape
    att = torch.stack([_previous_head(n, t), _uniform(n, t), torch.eye(t).expand(n, t, t)], 1)
    scores = previous_token_scores(att[:, None])  # [N, 1, 3, T, T] -> [1, 3]
    assert scores.shape == (1, 3)
    assert scores[0, 0].item() == pytest.approx(1.0)
    # Uniform causal attention: query q gives 1 / (q + 1) to each of its q + 1 keys.
    expected = sum(1 / (q + 1) for q in range(1, t)) / (t - 1)
    assert scores[0, 1].item() == pytest.approx(expected, rel=1e-6)
    assert scores[0, 2].item() == 0.0  # attending to oneself is not the previous token


def _prefix_matching_by_search(att: torch.Tensor, batch) -> float:
    """Reference, one pair at a time: from the i-th repeated token to its first copy's successor."""
    total, count = 0.0, 0
    for b in range(len(batch.ids)):
        s, m, row = int(batch.start[b]), int(batch.run[b]), batch.ids[b].tolist()
        for i in range(m - 1):
            query, copy = s + m + i, s + i
            assert row[query] == row[copy]  # the token's first occurrence
            total += att[b, query, copy + 1].item()
            count += 1
    return total / count


def test_prefix_matching_score_of_hand_built_heads_and_against_a_search():
    batch = _batch(2)
    n, t = batch.ids.shape
    random = torch.softmax(torch.randn(n, t, t, generator=torch.Generator().manual_seed(3)), -1)
    random = random * torch.tril(torch.ones(t, t))
    random = random / random.sum(-1, keepdim=True)
    heads = [_induction_head(batch), _previous_head(n, t), _duplicate_head(batch), random]
    scores = prefix_matching_scores(torch.stack(heads, 1)[:, None], batch)[0]
    assert scores[0].item() == pytest.approx(1.0)
    # The previous-token head sits on target keys only where the run is one token long.
    assert scores[1].item() == 0.0
    assert scores[2].item() == 0.0  # the earlier copy itself is one key too early
    assert scores[3].item() == pytest.approx(_prefix_matching_by_search(random, batch), rel=1e-5)
    targets = induction_targets(batch)
    assert targets.sum().item() == sum(m - 1 for m in batch.run.tolist())
    assert bool((torch.triu(targets, diagonal=0) == 0).all())  # always an earlier key


def test_half_losses_score_the_right_positions():
    batch = _batch(4, 10)
    v = TINY.vocab_size
    # Logits that know the second occurrence exactly and guess uniformly elsewhere.
    logits = torch.zeros(len(batch.ids), batch.ids.shape[1], v)
    for b, (s, m) in enumerate(zip(batch.start.tolist(), batch.run.tolist(), strict=True)):
        for p in range(s + m + 1, s + 2 * m):  # predicted position p, from logits[p - 1]
            logits[b, p - 1, batch.ids[b, p]] = 100.0
    first, second = half_losses(logits, batch)
    assert first == pytest.approx(math.log(v), rel=1e-6)
    assert second == pytest.approx(0.0, abs=1e-6)


# --- training and the cache ---------------------------------------------------


def test_training_is_reproducible_and_cached(tmp_path):
    a = train_induction(TINY)
    b = train_induction(TINY)
    assert a.weights_hash == b.weights_hash and a.losses == b.losses
    assert train_induction(TINY.replace(seed=1)).weights_hash != a.weights_hash
    first = load_or_train_induction(TINY, cache_directory=tmp_path)
    again = load_or_train_induction(TINY, cache_directory=tmp_path)
    assert not first.from_cache and again.from_cache
    assert again.weights_hash == a.weights_hash
    assert again.snapshots.steps == [0, 10, 20]
    assert torch.equal(again.snapshots.induction, a.snapshots.induction)
    # Step 0 is the untrained model: the same initial weights, measured on the same probe.
    untrained = a.untrained()
    with torch.no_grad():
        att = untrained(a.probe().ids).attentions
    assert torch.allclose(a.snapshots.previous[0], previous_token_scores(att))


def test_damaged_induction_cache_is_retrained(tmp_path):
    first = load_or_train_induction(TINY, cache_directory=tmp_path)
    (path,) = (tmp_path / "toy").glob("induction-*.pt")
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(ToyCacheWarning, match="SHA-256"):
        again = load_or_train_induction(TINY, cache_directory=tmp_path)
    assert not again.from_cache and again.weights_hash == first.weights_hash
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_or_train_induction(TINY, cache_directory=tmp_path).from_cache


def test_bad_configs_are_refused():
    with pytest.raises(ToyGrammarError, match="min_run"):
        InductionConfig(min_run=1)
    with pytest.raises(ToyGrammarError, match="max_run"):
        InductionConfig(min_run=8, max_run=6)
    with pytest.raises(ToyGrammarError, match="max_prefix"):
        InductionConfig(max_prefix=-1)
    with pytest.raises(ToyGrammarError, match="divisible"):
        InductionConfig(d_model=30, num_heads=4)
    with pytest.raises(ToyGrammarError, match="positions"):
        InductionConfig(positions="rope")
    with pytest.raises(ToyGrammarError, match="skip_bigram"):
        InductionConfig(skip_bigram=1.5)
    with pytest.raises(ToyGrammarError, match="InductionConfig"):
        train_induction("fast")
    with pytest.raises(ToyGrammarError, match="seeds"):
        induction_study(seeds=())
    with pytest.raises(ToyGrammarError, match="distinct"):
        induction_study(seeds=(1, 1))


# --- the study ----------------------------------------------------------------


def _seed(seed: int, previous: float, induction: float) -> SeedInduction:
    steps = (0, 10, 20)
    return SeedInduction(
        seed=seed,
        weights_hash="0" * 64,
        seconds=1.0,
        loss_first=3.9,
        loss_second=0.5,
        untrained_loss_first=4.0,
        untrained_loss_second=4.0,
        previous_head=0,
        previous_score=previous,
        untrained_previous_score=0.1,
        induction_head=1,
        induction_score=induction,
        untrained_induction_score=0.05,
        steps=steps,
        previous_curve=(0.1, previous, previous),
        induction_curve=(0.05, 0.2, induction),
        loss_first_curve=(4.0, 3.9, 3.9),
        loss_second_curve=(4.0, 2.0, 0.5),
    )


def test_study_counts_heads_at_the_threshold():
    study = InductionStudy(
        config=TINY,
        seeds=(
            _seed(0, APPEARS_AT, APPEARS_AT),
            _seed(1, APPEARS_AT - 1e-6, 0.9),
            _seed(2, 0.9, 0.1),
        ),
    )
    assert (study.n, study.n_previous, study.n_induction, study.n_both) == (3, 2, 2, 1)
    assert [s.emerged_at for s in study.seeds] == [20, None, None]
    assert study.untrained_best == pytest.approx(0.1)
    assert list(study.table()["both heads"]) == [True, False, False]


def test_study_of_real_runs_reports_each_seed(tmp_path):
    study = induction_study((0, 1), TINY, cache_directory=tmp_path)
    assert [s.seed for s in study.seeds] == [0, 1]
    for s in study.seeds:
        result = load_or_train_induction(TINY.replace(seed=s.seed), cache_directory=tmp_path)
        assert result.from_cache and s.weights_hash == result.weights_hash
        final = result.snapshots.previous[-1, 0]
        assert s.previous_score == pytest.approx(float(final.max()))
        assert s.previous_curve[-1] == s.previous_score
        assert s.untrained_previous_score == pytest.approx(
            float(result.snapshots.previous[0, 0].max())
        )
        assert s.steps == (0, 10, 20) and len(s.loss_second_curve) == 3
    assert 0 <= study.n_both <= study.n_previous <= 2


def test_emergence_figure_is_deterministic_and_japanese(tmp_path):
    study = InductionStudy(config=TINY, seeds=(_seed(0, 0.8, 0.7), _seed(3, 0.2, 0.6)))
    fig = induction_emergence(study)
    left, right = fig.axes
    assert len(left.lines) == 5 and len(right.lines) == 4  # 2 per seed + threshold; 2 per seed
    assert left.get_lines()[-1].get_ydata()[0] == APPEARS_AT
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert "seed 3: layer 1, head 1, prefix matching" in labels
    a = save(fig, tmp_path / "a.svg").read_bytes()
    b = save(induction_emergence(study), tmp_path / "b.svg").read_bytes()
    assert a == b
    with language("ja"):
        drawn = induction_emergence(study)
    assert drawn.axes[1].get_ylabel() == "損失（ナット）"
    assert "シード 3：層 1・ヘッド 1、プレフィックス一致" in [
        t.get_text() for t in drawn.axes[0].get_legend().get_texts()
    ]
    assert untranslated(translate(fig, "ja")) == []  # what the book's Japanese edition shows
    with pytest.raises(PlotInputError, match="InductionStudy"):
        induction_emergence(dataclasses.asdict(study))
