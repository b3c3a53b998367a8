"""Figures of the toy experiment (matplotlib; Japanese renders via matplotlib-fontja).

Drawn with attnbook's shared style (:mod:`attnbook.plot.style`); save them
with :func:`attnbook.plot.save` for byte-identical SVG/PNG/PDF files.
Layers and heads are **0-indexed** in every label.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib_fontja  # noqa: F401  (registers IPAexGothic, so 「猫」 renders)
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from attnbook.plot._axes import (
    PlotInputError,
    discrete_colours,
    new_axes,
    new_axes_row,
    plot_head,
    plot_layer,
)
from attnbook.plot.i18n import get_language, msg, remember, verbatim
from attnbook.plot.i18n import text as _t
from attnbook.plot.matrix import weights_heatmap
from attnbook.plot.style import style_context
from attnbook.toy.circuit import InductionStudy
from attnbook.toy.evaluate import ALL_GROUPS, RELATIONS, TARGETS, offset_baseline, sentence_maps
from attnbook.toy.experiment import final_best_heads
from attnbook.toy.grammar import Sentence, parse
from attnbook.toy.model import ToyEncoder
from attnbook.toy.train import EXAMPLES, TrainResult

__all__ = ["emergence", "head_heatmap", "induction_emergence", "verb_row_history"]


def _sentence(sentence: str | Sentence) -> Sentence:
    return parse(sentence) if isinstance(sentence, str) else sentence


def _check_head(model: ToyEncoder, layer: int, head: int) -> tuple[int, int]:
    """The one range rule (:func:`attnbook.ids.check_id`): 0-indexed, negative from the end."""
    return plot_layer(layer, model.num_layers), plot_head(head, model.num_heads)


def head_heatmap(
    model: ToyEncoder,
    sentence: str | Sentence,
    layer: int,
    head: int,
    *,
    ax: Axes | None = None,
) -> Figure:
    """One head's full attention matrix on one sentence; the verb's row is outlined.

    >>> from attnbook.toy import ToyEncoder, VOCAB
    >>> fig = head_heatmap(ToyEncoder(len(VOCAB), 10, 16, 1, 2), "猫 を 犬 が 追う", 0, 1)
    >>> fig.axes[0].get_title()
    'layer 0, head 1 (0-indexed)'
    """
    s = _sentence(sentence)
    layer, head = _check_head(model, layer, head)
    weights = sentence_maps(model, s).head(layer, head)
    title = msg("layer_head", layer=layer, head=head)
    fig = weights_heatmap(weights, s.tokens, s.tokens, ax=ax, title=title.render(get_language()))
    remember(fig, title)
    with style_context():
        (fig.axes[0] if ax is None else ax).add_patch(
            Rectangle((-0.5, s.verb - 0.5), len(s), 1, fill=False, edgecolor="crimson", linewidth=2)
        )
    return fig


def emergence(
    result: TrainResult,
    pairs: Sequence[tuple[str, str]] = (("ja-both", "subject"), ("ja-both", "object")),
    *,
    target: str = "noun",
    ax: Axes | None = None,
) -> Figure:
    """Accuracy of the finally-best head for each (group, relation) over training.

    Solid lines: the head that is best at the end of training, at every
    snapshot (on the probe sentences). Dashed: the best fixed offset on the
    same sentences, which does not change with training.

    >>> from attnbook.toy import ToyConfig, train
    >>> r = train(ToyConfig(d_model=8, num_layers=1, num_heads=2, d_ff=8, n_train=100,
    ...                     n_test=40, steps=4, snapshot_every=2, n_probe=40))
    >>> fig = emergence(r)
    >>> len(fig.axes[0].lines)
    4
    """
    if target not in TARGETS:
        raise PlotInputError(f"target must be one of {TARGETS}, got {target!r}")
    for group, relation in pairs:
        if group not in ALL_GROUPS or relation not in RELATIONS:
            raise PlotInputError(
                f"unknown (group, relation) {(group, relation)!r}; groups: {ALL_GROUPS}, "
                f"relations: {RELATIONS}"
            )
    steps = result.snapshots.steps
    acc = result.snapshots.recorded("accuracy")[:, TARGETS.index(target)]  # [S, L, H, G, R]
    _, test = result.sentences()
    probe = test[: result.config.n_probe]
    offsets = offset_baseline(probe, target=target)
    best = final_best_heads(result, pairs, target=target)
    colours = discrete_colours(len(pairs))
    with style_context():
        fig, ax = new_axes(ax, (6.4, 3.6))
        for colour, (group, relation) in zip(colours, pairs, strict=True):
            layer, head = best[(group, relation)]
            curve = acc[:, layer, head, ALL_GROUPS.index(group), RELATIONS.index(relation)]
            ax.plot(
                steps,
                curve.tolist(),
                color=colour,
                marker="o",
                markersize=3,
                label=_t(
                    fig,
                    "group_relation_head",
                    group=group,
                    relation=msg(relation),
                    layer=layer,
                    head=head,
                ),
            )
            chosen = offsets[(offsets.group == group) & (offsets.relation == relation)]
            row = chosen.loc[chosen.accuracy.idxmax()]
            ax.axhline(
                float(row.accuracy),
                color=colour,
                linestyle="--",
                linewidth=1,
                label=_t(
                    fig,
                    "group_relation_offset",
                    group=group,
                    relation=msg(relation),
                    offset=f"{int(row.offset):+d}",
                ),
            )
        ax.set_xlabel(_t(fig, "training_step"))
        ax.set_ylabel(_t(fig, "accuracy_argmax_verb"))
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize="small", loc="lower right")
    return fig


def verb_row_history(
    result: TrainResult,
    layer: int,
    head: int,
    *,
    example: int = 2,
    every: int = 1,
    ax: Axes | None = None,
) -> Figure:
    """The verb's attention row of one head at each snapshot, for one of :data:`EXAMPLES`.

    Rows are training steps (top: before training), columns the example's words.
    ``every`` keeps every n-th snapshot (the last one is always kept).
    """
    layer, head = _check_head(result.model, layer, head)
    if not 0 <= example < len(EXAMPLES):
        raise PlotInputError(f"example must be 0..{len(EXAMPLES) - 1}, got {example}")
    if every < 1:
        raise PlotInputError(f"every must be >= 1, got {every}")
    s = parse(EXAMPLES[example])
    keep = list(range(0, len(result.snapshots.steps), every))
    if keep[-1] != len(result.snapshots.steps) - 1:
        keep.append(len(result.snapshots.steps) - 1)
    rows = result.snapshots.recorded("rows")[keep, example, layer, head, : len(s)]
    labels = [msg("step_n", step=int(result.snapshots.steps[i])) for i in keep]
    title = msg("row_of_verb", verb=s.tokens[s.verb], layer=layer, head=head)
    lang = get_language()
    fig = weights_heatmap(
        rows,
        [m.render(lang) for m in labels],
        s.tokens,
        ax=ax,
        annotate=False,
        title=title.render(lang),
    )
    for m in (*labels, title):
        remember(fig, m)
    verbatim(fig, s.tokens)
    return fig


def induction_emergence(study: InductionStudy, *, axes: Sequence[Axes] | None = None) -> Figure:
    """The induction circuit forming during training, one colour per seed.

    Left: the score of each seed's final best layer-0 previous-token head
    (solid) and best layer-1 prefix-matching head (dashed) at every logged
    step, with the bar a head must reach to count (dotted). Right: the
    held-out loss on the first (dotted) and the second (solid) occurrence of
    the repeated run. Step 0 is the untrained model.

    Args:
        study: from :func:`attnbook.toy.circuit.induction_study`.
        axes: two matplotlib Axes to draw into (default: a new figure).

    >>> from attnbook.toy.circuit import induction_study
    >>> from attnbook.toy.induction import InductionConfig
    >>> study = induction_study((0,), InductionConfig(num_tokens=12, min_run=3, max_run=5,
    ...     d_model=16, num_heads=2, steps=4, batch_size=8, snapshot_every=2, n_probe=16))
    >>> fig = induction_emergence(study)
    >>> [len(ax.lines) for ax in fig.axes], fig.axes[0].get_xlabel()
    ([3, 2], 'training step')
    """
    if not isinstance(study, InductionStudy):
        raise PlotInputError(
            f"study must be an InductionStudy (from induction_study), got {type(study).__name__}"
        )
    colours = discrete_colours(study.n)
    with style_context():
        fig, (left, right) = new_axes_row(axes, 2, (10.0, 3.8))
        for colour, s in zip(colours, study.seeds, strict=True):
            left.plot(
                s.steps,
                s.previous_curve,
                color=colour,
                label=_t(fig, "seed_previous_head", seed=s.seed, layer=0, head=s.previous_head),
            )
            left.plot(
                s.steps,
                s.induction_curve,
                color=colour,
                linestyle="--",
                label=_t(fig, "seed_induction_head", seed=s.seed, layer=1, head=s.induction_head),
            )
            right.plot(
                s.steps,
                s.loss_first_curve,
                color=colour,
                linestyle=":",
                label=_t(fig, "seed_first_occurrence", seed=s.seed),
            )
            right.plot(
                s.steps,
                s.loss_second_curve,
                color=colour,
                label=_t(fig, "seed_second_occurrence", seed=s.seed),
            )
        left.axhline(
            study.threshold,
            color="grey",
            linestyle=":",
            linewidth=1,
            label=_t(fig, "threshold_value", value=f"{study.threshold:g}"),
        )
        left.set_ylim(-0.02, 1.02)
        left.set_ylabel(_t(fig, "score_mean_attention"))
        right.set_ylim(bottom=0)
        right.set_ylabel(_t(fig, "loss_nats"))
        for ax in (left, right):
            ax.set_xlabel(_t(fig, "training_step"))
            ax.legend(fontsize="x-small", loc="best")
    return fig
