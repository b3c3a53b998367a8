"""A real model's attention for one text (or pair): :func:`attend` -> :class:`AttentionMaps`.

>>> from attnbook import attend
>>> maps = attend("The dog chased the cat.")
>>> maps.tokens
['[CLS]', 'the', 'dog', 'chased', 'the', 'cat', '.', '[SEP]']
>>> tuple(maps.attentions.shape)  # [layers, heads, queries, keys]
(6, 12, 8, 8)

Layer and head ids are 0-indexed everywhere. The parts:

* :mod:`attnbook.maps.types` -- the result type: :class:`AttentionMaps` over a
  query :class:`TokenAxis` and a key :class:`TokenAxis`, :class:`Segments`.
* :mod:`attnbook.maps.words` -- finding a word's tokens; pooling pieces into words.
* :mod:`attnbook.maps.export` -- maps as a pandas table.
* :mod:`attnbook.maps.encode` -- text to model inputs (tokens, words, segments, roles).
* :mod:`attnbook.maps.run` -- :func:`attend`.
* :mod:`attnbook.maps.recompute` -- :func:`recompute_attention(s) <recompute_attention>`.
"""

from attnbook.maps.encode import UNKNOWN_TOKEN_THRESHOLD, model_max_tokens
from attnbook.maps.recompute import recompute_attention, recompute_attentions
from attnbook.maps.run import attend
from attnbook.maps.types import ROLES, AttentionMaps, KeySpec, Segments, TokenAxis
from attnbook.maps.words import fold as _fold  # noqa: F401 (tests and readers used it)

__all__ = [
    "ROLES",
    "UNKNOWN_TOKEN_THRESHOLD",
    "AttentionMaps",
    "KeySpec",
    "Segments",
    "TokenAxis",
    "attend",
    "model_max_tokens",
    "recompute_attention",
    "recompute_attentions",
]
