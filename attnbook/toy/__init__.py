"""A controlled experiment: a bilingual toy grammar and a tiny transformer whose heads learn syntax.

- :mod:`attnbook.toy.grammar` -- English SVO and Japanese SOV/OSV sentences with gold structure.
- :mod:`attnbook.toy.model` -- one small pre-LN Transformer family on :class:`attnbook.MultiHeadAttention`:
  an encoder, a causal decoder and an encoder-decoder with cross-attention.
- :mod:`attnbook.toy.parallel` -- English/Japanese translation pairs with the gold word alignment.
- :mod:`attnbook.toy.translate` -- a toy translator; its cross-attention scored against the alignment.
- :mod:`attnbook.toy.decoder_lm` -- the toy decoder trained GPT-style (next word), cached
  generation with a KV cache.
- :mod:`attnbook.toy.induction` -- induction heads in a two-layer attention-only decoder.
- :mod:`attnbook.toy.circuit` -- the induction circuit over seeds (best heads, emergence, counts).
- :mod:`attnbook.toy.train` -- reproducible masked-word training with an on-disk cache.
- :mod:`attnbook.toy.training` -- what the trainers share: learning-rate schedule, thread
  count, optimizer step, weights hash, cache files.
- :mod:`attnbook.toy.evaluate` -- Clark et al. (2019) style head scores vs fixed-offset baselines.

Layers and heads are 0-indexed throughout.
"""

from attnbook.toy.cache import ToyCacheWarning, cache_dir
from attnbook.toy.circuit import APPEARS_AT, InductionStudy, SeedInduction, induction_study
from attnbook.toy.decoder_lm import (
    DecoderConfig,
    DecoderResult,
    load_or_train_decoder,
    train_decoder,
)
from attnbook.toy.evaluate import (
    ALL_GROUPS,
    RELATIONS,
    attention_maps,
    clark_table,
    encode,
    head_accuracy,
    offset_baseline,
    particle_heads,
    sentence_maps,
)
from attnbook.toy.grammar import (
    GROUPS,
    VOCAB,
    Sentence,
    ToyGrammarError,
    generate,
    make_split,
    parse,
)
from attnbook.toy.induction import InductionConfig, load_or_train_induction
from attnbook.toy.model import ToyDecoder, ToyEncoder, ToyEncoderDecoder, ToyOutput
from attnbook.toy.train import (
    EXAMPLES,
    ToyConfig,
    TrainResult,
    cache_path,
    load_or_train,
    store,
    train,
    weights_hash,
)

__all__ = [
    "ALL_GROUPS",
    "APPEARS_AT",
    "DecoderConfig",
    "DecoderResult",
    "EXAMPLES",
    "GROUPS",
    "InductionConfig",
    "InductionStudy",
    "RELATIONS",
    "SeedInduction",
    "VOCAB",
    "Sentence",
    "ToyCacheWarning",
    "ToyConfig",
    "ToyDecoder",
    "ToyEncoder",
    "ToyEncoderDecoder",
    "ToyGrammarError",
    "ToyOutput",
    "TrainResult",
    "attention_maps",
    "sentence_maps",
    "cache_dir",
    "cache_path",
    "clark_table",
    "encode",
    "generate",
    "head_accuracy",
    "induction_study",
    "load_or_train",
    "load_or_train_decoder",
    "load_or_train_induction",
    "make_split",
    "offset_baseline",
    "parse",
    "particle_heads",
    "store",
    "train",
    "train_decoder",
    "weights_hash",
]
