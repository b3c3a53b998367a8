"""attnbook: the attention mechanism at high resolution.

The package behind the attnbook book: attention written from scratch
(:mod:`attnbook.mechanism`), real-model attention maps, figures and views.
"""

from attnbook.errors import AttnbookError
from attnbook.mechanism import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)

__version__ = "0.1.0"

__all__ = [
    "AttnbookError",
    "MultiHeadAttention",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "softmax",
]
