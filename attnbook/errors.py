"""The exceptions and warnings attnbook raises.

Every error a reader can cause derives from :class:`AttnbookError`, so
``except attnbook.AttnbookError`` catches all of them; each message says what
was wrong and what to do about it.
"""

from __future__ import annotations


class AttnbookError(Exception):
    """Base class of every error attnbook raises on bad input or setup."""


# --- real-model attention (attnbook.models, attnbook.maps) ---


class NotTextError(AttnbookError, TypeError):
    """The text given to :func:`attnbook.attend` is not a ``str``."""


class EmptyTextError(AttnbookError, ValueError):
    """The text is empty or only whitespace, so there is nothing to attend over."""


class TextTooLongError(AttnbookError, ValueError):
    """The text has more tokens than the model accepts (and ``truncation`` was not asked for).

    Attributes ``num_tokens`` and ``limit`` hold the two numbers.
    """

    def __init__(self, message: str, *, num_tokens: int, limit: int) -> None:
        super().__init__(message)
        self.num_tokens = num_tokens
        self.limit = limit


class LayerOutOfRangeError(AttnbookError, IndexError):
    """A layer id outside ``0 .. num_layers - 1`` (layer ids are 0-indexed)."""


class HeadOutOfRangeError(AttnbookError, IndexError):
    """A head id outside ``0 .. num_heads - 1`` (head ids are 0-indexed)."""


class WordNotFoundError(AttnbookError, ValueError):
    """A query or key word is not in the sentence (or not that many times)."""


class ModelNotAvailableError(AttnbookError, OSError):
    """The model is neither embedded, nor a local directory, nor in the local Hugging Face cache."""


class UnsupportedModelError(AttnbookError, ValueError):
    """The object or checkpoint is not a model attnbook can read attention from."""


class EncoderDecoderModelError(UnsupportedModelError):
    """An encoder-decoder (BART, T5, Marian) was given where one text's self-attention is read."""


class NotEncoderDecoderModelError(UnsupportedModelError):
    """An encoder-only (BERT) or decoder-only (GPT-2) model was given to :func:`attnbook.attend_seq2seq`."""


class NoAttentionError(AttnbookError, RuntimeError):
    """The model returned no attention weights (e.g. it only implements fused attention)."""


class MissingDependencyError(AttnbookError, ImportError):
    """A model needs an optional package, e.g. ``fugashi`` for Japanese BERTs (``attnbook[ja]``)."""


class MapsShapeError(AttnbookError, ValueError):
    """An :class:`~attnbook.maps.AttentionMaps` built by hand has inconsistent sizes."""


class AxesDifferError(AttnbookError, ValueError):
    """A one-axis name (``tokens``, ``words``, ...) was asked of maps whose query and key axes differ.

    Cross-attention maps have queries from one text and keys from another:
    use ``maps.query_tokens`` / ``maps.key_tokens`` (or ``maps.query`` /
    ``maps.key``) instead.
    """


class InvalidOptionError(AttnbookError, ValueError):
    """An option of :func:`~attnbook.maps.attend` or a map method (``k``, ``max_length``) is invalid."""


class UnknownTokenWarning(UserWarning):
    """Many of the text's tokens are unknown (``[UNK]``) to the model's vocabulary.

    Typical cause: Japanese text through an English model. The attention maps
    are then about ``[UNK]`` placeholders, not about the words.
    """


# --- the from-scratch mechanism (attnbook.mechanism, attnbook.position) ---


class AttentionInputError(AttnbookError, ValueError):
    """Inputs to the from-scratch attention do not fit together.

    Raised by :mod:`attnbook.mechanism` and :mod:`attnbook.position` for
    shapes, masks, head counts or options that cannot work; the message names
    the sizes it got and what would fit.
    """


class KVCacheMismatchError(AttentionInputError):
    """A :class:`~attnbook.mechanism.KVCache` is reused for keys/values of another shape.

    A cache belongs to one batch of sequences and one attention layer (its
    batch size, key/value heads and head width are fixed by the first
    append). Use one cache per layer and a fresh cache (or
    :meth:`~attnbook.mechanism.KVCache.reset`) for a new batch.
    """


# --- analysis (attnbook.analysis) ---


class AnalysisInputError(AttnbookError, ValueError):
    """Input to a head statistic, rollout or norm-based analysis has the wrong type or shape."""


class NoPositionsError(AnalysisInputError):
    """A position-based statistic was asked of maps whose queries and keys are two texts.

    In cross-attention (an encoder-decoder's ``maps.cross``) query ``i`` is a
    target token and key ``j`` a source token: ``|i - j|``, "the previous
    token" and "the next token" compare positions in two different sentences
    and mean nothing. :func:`~attnbook.analysis.head_statistics` leaves those
    columns out for such maps; this error is raised when they are asked for
    (``positions=True``).
    """
