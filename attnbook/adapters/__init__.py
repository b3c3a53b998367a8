"""The one layer between transformers and attnbook: model families, the encode and capture steps.

* :mod:`~attnbook.adapters.base` -- :class:`Sublayer` (where one attention
  sublayer's query/key/value/output projections are, its heads and key/value
  heads, its kind: ``"self"``, ``"causal"`` or ``"cross"``), :class:`Adapter`
  (one model family) and the registry (:func:`register_adapter`, :func:`adapter_for`).
* :mod:`~attnbook.adapters.families` -- the built-in families: BERT-style
  encoders (BERT, RoBERTa, ELECTRA, ALBERT, ...), DistilBERT, GPT-2, GPT-Neo,
  GPT-NeoX, the Llama family (Llama, Mistral, Qwen, ... with grouped key/value
  heads and RoPE), BART/mBART/Marian and T5.
* :mod:`~attnbook.adapters.encode` -- :func:`encode`: text -> model inputs and token roles.
* :mod:`~attnbook.adapters.capture` -- :func:`capture`: the forward pass (device,
  eval mode, eager attention weights, each sublayer's input).
* :mod:`~attnbook.adapters.recompute` -- the weights rebuilt from a sublayer's
  input with :func:`attnbook.scaled_dot_product_attention`.

Adding a model family is one call:

>>> import attnbook.adapters as adapters
>>> from attnbook.adapters.families import heads_of
>>> def my_sublayers(model):
...     return [
...         adapters.Sublayer(
...             name=name, module=m, kind="causal", stack="decoder",
...             num_heads=m.heads, num_kv_heads=m.heads, head_dim=m.wq.out_features // m.heads,
...             query=heads_of(m.wq, m.heads), key=heads_of(m.wk, m.heads),
...             value=heads_of(m.wv, m.heads), output=m.wo,
...         )
...         for name, m in model.named_modules() if hasattr(m, "wq")
...     ]
>>> mine = adapters.register_adapter(adapters.Adapter("mine", ("mine",), my_sublayers))
>>> adapters.unregister_adapter(mine)  # (tests/test_adapters.py does this for a real model)
"""

from attnbook.adapters import families
from attnbook.adapters.base import (
    Adapter,
    Kind,
    Stack,
    Sublayer,
    adapter_for,
    find_adapter,
    register_adapter,
    registered_adapters,
    unregister_adapter,
)
from attnbook.adapters.capture import Call, Capture, capture, model_device
from attnbook.adapters.encode import Encoded, encode, forward_args
from attnbook.adapters.recompute import recompute_call, recompute_layers

__all__ = [
    "Adapter",
    "Call",
    "Capture",
    "Encoded",
    "Kind",
    "Stack",
    "Sublayer",
    "adapter_for",
    "capture",
    "encode",
    "families",
    "find_adapter",
    "forward_args",
    "model_device",
    "recompute_call",
    "recompute_layers",
    "register_adapter",
    "registered_adapters",
    "unregister_adapter",
]
