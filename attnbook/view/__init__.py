"""Interactive attention views that work offline: :func:`head_view` and :func:`model_view`.

Each returns an :class:`AttentionView` whose HTML carries its own JavaScript,
CSS and quantised weights (no CDN, no require.js): it shows in Jupyter, as a
cell output on the book's static site, and saved as a standalone page.
:func:`to_bertviz` hands the same maps to BertViz for readers who use it.

Both views take the maps of :func:`attnbook.attend` (one part, self-attention)
or of :func:`attnbook.attend_seq2seq` (three parts: the encoder's and the
decoder's self-attention and the cross-attention, shown first, with the
target's tokens on the left and the source's on the right);
:func:`seq2seq_to_bertviz` gives BertViz's encoder-decoder arguments.
"""

from attnbook.view.bertviz import seq2seq_to_bertviz, to_bertviz
from attnbook.view.html import AttentionView, head_view, model_view
from attnbook.view.payload import MAX_ERROR, ViewInputError, build_payload, decode_payload

__all__ = [
    "MAX_ERROR",
    "AttentionView",
    "ViewInputError",
    "build_payload",
    "decode_payload",
    "head_view",
    "model_view",
    "seq2seq_to_bertviz",
    "to_bertviz",
]
