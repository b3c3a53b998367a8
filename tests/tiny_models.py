"""Tiny random encoders of each BERT family and tiny decoders (GPT-2, GPT-NeoX,
Llama with grouped key/value heads), built and saved locally (nothing is downloaded).

Used by test_models.py, test_recompute.py and test_analysis_norms.py to prove that
the loading, attention and word-alignment code paths work beyond the default model;
test_japanese.py builds its MeCab BERT at the same size (``SMALL``).
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ["the", "dog", "cat", "chase", "bark", "it", "is", "loud", "a", "un", "simple", "attention"]
PIECES = ["##d", "##s", "##believ", "##ably", "##ion"]
PUNCT = [".", ",", "!", "?"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

CORPUS = [
    "The dog chased the cat.",
    "The cat barks, it is loud!",
    "Attention is unbelievably simple.",
    "A dog is a dog.",
] * 4

FAMILIES = ("bert", "roberta", "distilbert", "electra")

# The size of every tiny BERT-style encoder (also test_japanese.py's).
SMALL = dict(
    num_hidden_layers=2,
    hidden_size=16,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=64,
)


def wordpiece_vocab() -> dict[str, int]:
    return {t: i for i, t in enumerate(SPECIAL + WORDS + PIECES + PUNCT)}


def _byte_level_bpe():
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS,
        vocab_size=300,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    import json

    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def build(family: str, directory: Path, *, seed: int = 0) -> Path:
    """Save a 2-layer, 2-head random ``family`` encoder and its tokenizer to ``directory``."""
    import transformers as tf

    tf.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    directory = Path(directory) / f"tiny-{family}"
    if family == "bert":
        tokenizer = tf.BertTokenizer(vocab=wordpiece_vocab())
        config = tf.BertConfig(vocab_size=len(tokenizer), **SMALL)
        model = tf.BertModel(config)
    elif family == "electra":
        tokenizer = tf.ElectraTokenizer(vocab=wordpiece_vocab())
        config = tf.ElectraConfig(vocab_size=len(tokenizer), embedding_size=16, **SMALL)
        model = tf.ElectraModel(config)
    elif family == "distilbert":
        tokenizer = tf.DistilBertTokenizer(vocab=wordpiece_vocab())
        config = tf.DistilBertConfig(
            vocab_size=len(tokenizer),
            n_layers=2,
            n_heads=2,
            dim=16,
            hidden_dim=32,
            max_position_embeddings=64,
        )
        model = tf.DistilBertModel(config)
    elif family == "roberta":
        vocab, merges = _byte_level_bpe()
        tokenizer = tf.RobertaTokenizer(vocab=vocab, merges=merges)
        config = tf.RobertaConfig(
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **{**SMALL, "max_position_embeddings": 66},
        )
        model = tf.RobertaModel(config)
    else:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    tokenizer.model_max_length = 64
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


DECODERS = ("gpt2", "gpt_neox", "llama")


def build_decoder(family: str, directory: Path, *, seed: int = 0) -> Path:
    """Save a 2-layer random causal ``family`` model and a byte-level BPE tokenizer.

    The Llama has 4 query heads sharing 2 key/value heads (grouped-query
    attention), so attnbook must report one map per *query* head.
    """
    import transformers as tf

    tf.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    directory = Path(directory) / f"tiny-{family}"
    vocab, merges = _byte_level_bpe()
    tokenizer = tf.GPT2Tokenizer(
        vocab=vocab, merges=merges, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    size = dict(vocab_size=len(tokenizer), max_position_embeddings=64, **ids)
    if family == "gpt2":
        config = tf.GPT2Config(n_embd=16, n_layer=2, n_head=2, **size)
        model = tf.GPT2Model(config)
    elif family == "gpt_neox":
        config = tf.GPTNeoXConfig(
            hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, **size
        )
        model = tf.GPTNeoXModel(config)
    elif family == "llama":
        config = tf.LlamaConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=4,
            **size,
        )
        model = tf.LlamaModel(config)
    else:
        raise ValueError(f"unknown decoder family {family!r}; choose from {DECODERS}")
    tokenizer.model_max_length = 64
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_encoder_decoder(directory: Path, *, seed: int = 0) -> Path:
    """Save a tiny random BART (an encoder-decoder) with a byte-level BPE tokenizer."""
    import transformers as tf

    tf.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    directory = Path(directory) / "tiny-bart"
    vocab, merges = _byte_level_bpe()
    tokenizer = tf.RobertaTokenizer(vocab=vocab, merges=merges)
    config = tf.BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    tf.BartModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def reference_attentions(path, text, pair=None) -> torch.Tensor:
    """[L, H, T, T] from plain transformers (independent of attnbook)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager")
    model.eval()
    enc = tokenizer(text, pair, return_tensors="pt")
    if "token_type_ids" in enc and model.config.model_type == "distilbert":
        del enc["token_type_ids"]
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return torch.stack([a[0] for a in out.attentions])
