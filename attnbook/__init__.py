"""attnbook: the attention mechanism at high resolution.

The package behind the attnbook book: attention written from scratch
(:mod:`attnbook.mechanism`, :mod:`attnbook.position`), real-model attention
maps, figures and views.
"""

from attnbook import position
from attnbook.errors import (
    AnalysisInputError,
    AttentionInputError,
    AttnbookError,
    AxesDifferError,
    EmptyTextError,
    EncoderDecoderModelError,
    HeadOutOfRangeError,
    InvalidOptionError,
    KVCacheMismatchError,
    LayerOutOfRangeError,
    MapsShapeError,
    MissingDependencyError,
    ModelNotAvailableError,
    NoAttentionError,
    NotEncoderDecoderModelError,
    NotTextError,
    TextTooLongError,
    UnknownTokenWarning,
    UnsupportedModelError,
    WordNotFoundError,
)
from attnbook.maps import (
    AttentionMaps,
    Segments,
    TokenAxis,
    attend,
    recompute_attention,
    recompute_attentions,
)
from attnbook.mechanism import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
    tiled_attention,
)
from attnbook.models import DEFAULT_MODEL, load_model
from attnbook.seq2seq import Seq2SeqMaps, attend_seq2seq

__version__ = "0.1.0"

# Heavier subpackages (matplotlib, views, analysis, the toy model) load on first
# use, so `import attnbook` stays quick: `attnbook.plot.heatmap(...)` just works.
_LAZY_SUBMODULES = {"analysis", "experiments", "plot", "toy", "view"}


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"attnbook.{name}")
    raise AttributeError(f"module 'attnbook' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "AnalysisInputError",
    "AttentionInputError",
    "AttentionMaps",
    "AttnbookError",
    "AxesDifferError",
    "EmptyTextError",
    "EncoderDecoderModelError",
    "HeadOutOfRangeError",
    "InvalidOptionError",
    "KVCacheMismatchError",
    "LayerOutOfRangeError",
    "MapsShapeError",
    "MissingDependencyError",
    "ModelNotAvailableError",
    "NoAttentionError",
    "NotEncoderDecoderModelError",
    "NotTextError",
    "Segments",
    "Seq2SeqMaps",
    "TextTooLongError",
    "TokenAxis",
    "UnknownTokenWarning",
    "UnsupportedModelError",
    "WordNotFoundError",
    "attend",
    "attend_seq2seq",
    "load_model",
    "recompute_attention",
    "recompute_attentions",
    "KVCache",
    "MultiHeadAttention",
    "causal_mask",
    "padding_mask",
    "position",
    "scaled_dot_product_attention",
    "softmax",
    "tiled_attention",
]
