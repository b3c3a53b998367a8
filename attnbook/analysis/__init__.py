"""Measuring heads the way the research literature does.

* :mod:`attnbook.analysis.heads` -- Clark et al. (2019) head statistics: attention to
  [CLS] / [SEP] / punctuation, entropy, mean distance, previous/next-token share (the
  position-based ones only where queries and keys are one text, not for cross-attention).
* :mod:`attnbook.analysis.search` -- head search: which heads send a query word's attention
  to given key words (``top_heads``, ``query_to_keys``, ``layer_profile``).
* :mod:`attnbook.analysis.contrast` -- a query's attention beside the other words' (is a
  pattern specific to the query?), and attention to one token string such as ``[UNK]``.
* :mod:`attnbook.analysis.rollout` -- attention rollout (Abnar & Zuidema 2020).
* :mod:`attnbook.analysis.norms` -- norm-based attention ‖αf(x)‖ (Kobayashi et al. 2020).

Layer and head ids are 0-indexed throughout (layer 0 is the first layer).
"""

from attnbook.analysis.contrast import attention_to, query_contrast
from attnbook.analysis.heads import (
    HEAD_STATISTICS_COLUMNS,
    POSITIONAL_COLUMNS,
    head_statistics,
    is_punctuation,
    layer_summary,
    smoothed_entropy,
    visible_keys,
)
from attnbook.analysis.norms import (
    AttentionNorms,
    attention_norms,
    attention_norms_from_inputs,
    bert_attention_modules,
    transformed_vectors,
)
from attnbook.analysis.rollout import attention_rollout
from attnbook.analysis.search import layer_profile, query_to_keys, top_heads

__all__ = [
    "HEAD_STATISTICS_COLUMNS",
    "POSITIONAL_COLUMNS",
    "AttentionNorms",
    "attention_norms",
    "attention_norms_from_inputs",
    "attention_rollout",
    "attention_to",
    "bert_attention_modules",
    "head_statistics",
    "is_punctuation",
    "layer_profile",
    "layer_summary",
    "query_contrast",
    "query_to_keys",
    "smoothed_entropy",
    "top_heads",
    "transformed_vectors",
    "visible_keys",
]
