"""Tiny random encoders of each BERT family and tiny decoders (GPT-2, GPT-NeoX,
Llama with grouped key/value heads), built and saved locally (nothing is downloaded).

Used by test_models.py, test_recompute.py and test_analysis_norms.py to prove that
the loading, attention and word-alignment code paths work beyond the default model;
test_japanese.py builds its MeCab BERT at the same size (``SMALL``).
"""

from __future__ import annotations

import math
from collections import Counter
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


def _start(seed: int):
    """transformers, without progress bars, after seeding torch (the random weights come from it)."""
    import transformers as tf

    tf.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    return tf


def _save(directory: Path, model, tokenizer, *, max_length: int | None = 64) -> Path:
    if max_length is not None:
        tokenizer.model_max_length = max_length
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _token_ids(tokenizer, *names: str, decoder_start: str | None = None) -> dict[str, int]:
    """The config's ``<name>_token_id`` for each special token name (and the decoder's start)."""
    ids = {f"{n}_token_id": getattr(tokenizer, f"{n}_token_id") for n in names}
    if decoder_start is not None:
        ids["decoder_start_token_id"] = getattr(tokenizer, f"{decoder_start}_token_id")
    return ids


def _bpe_tokenizer(tokenizer_class, **special):
    """A ``tokenizer_class`` (GPT-2 or RoBERTa style) on the byte-level BPE learnt from CORPUS."""
    vocab, merges = _byte_level_bpe()
    return tokenizer_class(vocab=vocab, merges=merges, **special)


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
    tf = _start(seed)
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
        tokenizer = _bpe_tokenizer(tf.RobertaTokenizer)
        config = tf.RobertaConfig(
            vocab_size=len(tokenizer),
            **_token_ids(tokenizer, "pad", "bos", "eos"),
            **{**SMALL, "max_position_embeddings": 66},
        )
        model = tf.RobertaModel(config)
    else:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    return _save(directory, model, tokenizer)


DECODERS = ("gpt2", "gpt_neox", "llama")


def build_decoder(family: str, directory: Path, *, seed: int = 0) -> Path:
    """Save a 2-layer random causal ``family`` model and a byte-level BPE tokenizer.

    The Llama has 4 query heads sharing 2 key/value heads (grouped-query
    attention), so attnbook must report one map per *query* head.
    """
    tf = _start(seed)
    directory = Path(directory) / f"tiny-{family}"
    tokenizer = _bpe_tokenizer(
        tf.GPT2Tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    ids = _token_ids(tokenizer, "bos", "eos")
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
    return _save(directory, model, tokenizer)


def build_encoder_decoder(directory: Path, *, seed: int = 0) -> Path:
    """Save a tiny random BART (an encoder-decoder) with a byte-level BPE tokenizer."""
    tf = _start(seed)
    directory = Path(directory) / "tiny-bart"
    tokenizer = _bpe_tokenizer(tf.RobertaTokenizer)
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
        **_token_ids(tokenizer, "pad", "bos", "eos", decoder_start="eos"),
    )
    return _save(directory, tf.BartModel(config), tokenizer, max_length=None)


SEQ2SEQ = ("bart", "marian", "t5", "mbart")

# A little parallel text for the translation tokenizers (and for tests to translate).
TARGET_CORPUS = [
    "Der Hund jagte die Katze.",
    "Die Katze bellt, sie ist laut!",
    "Aufmerksamkeit ist unglaublich einfach.",
    "Ein Hund ist ein Hund.",
] * 4

SEQ2SEQ_SIZE = dict(
    d_model=16,
    encoder_layers=2,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=4,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    max_position_embeddings=64,
)


def _unigram_vocab(special: list[str]) -> list[tuple[str, float]]:
    """A SentencePiece-style Unigram vocabulary ("▁" starts a word) counted from both corpora.

    The pieces are every substring of 1 to 4 characters of the corpora's "▁"-prefixed
    words, each scored with the log of its relative frequency, most frequent first
    (ties in piece order); ``special`` come first, scored 0. No characters outside the
    corpora, so those texts never meet ``<unk>``; longer words split into pieces.

    Counted, not trained with tokenizers' ``UnigramTrainer``: that trainer's result
    depends on the iteration order of Rust hash maps, seeded at random in every
    process (same pieces, but ties in another order and scores differing in the last
    bits), so every build numbered the pieces differently. Integer counts and a total
    order make the ids and scores the same in every process.
    """
    counts: Counter[str] = Counter()
    for line in CORPUS + TARGET_CORPUS:
        for word in line.split():
            word = "▁" + word
            for n in range(1, 5):
                counts.update(word[i : i + n] for i in range(len(word) - n + 1))
    total = sum(counts.values())
    pieces = sorted(counts, key=lambda piece: (-counts[piece], piece))
    return [(s, 0.0) for s in special] + [(p, math.log(counts[p] / total)) for p in pieces]


def _marian_tokenizer():
    """Marian's text format (``X </s>``, ``<pad>`` starts the decoder) on a Unigram model.

    transformers' own ``MarianTokenizer`` needs the ``sentencepiece`` package, which
    attnbook does not depend on; the Marian *model* and its shifting are what is tested.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = _unigram_vocab(["</s>", "<unk>", "<pad>"])
    tok = Tokenizer(models.Unigram(vocab, unk_id=1))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", 0)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def build_seq2seq(family: str, directory: Path, *, seed: int = 0) -> Path:
    """Save a tiny random encoder-decoder of ``family`` (see :data:`SEQ2SEQ`) and its tokenizer.

    2 encoder layers x 2 heads, 1 decoder layer x 4 heads, so a test can tell the
    encoder's sizes from the decoder's. Each tokenizer marks its text the way the
    family does: BART ``<s> X </s>`` (the decoder starts with ``</s>``), Marian and
    T5 ``X </s>`` (the decoder starts with ``<pad>``), mBART ``X </s> en_XX`` (its
    decoder starts with the target language code, wrapped round from the end).
    """
    if family == "bart":
        return build_encoder_decoder(directory, seed=seed)
    tf = _start(seed)
    directory = Path(directory) / f"tiny-{family}"
    if family == "marian":
        tokenizer = _marian_tokenizer()
        config = tf.MarianConfig(
            vocab_size=len(tokenizer),
            **_token_ids(tokenizer, "pad", "eos", decoder_start="pad"),
            **SEQ2SEQ_SIZE,
        )
        model = tf.MarianModel(config)
    elif family == "t5":
        vocab = _unigram_vocab(["<pad>", "</s>", "<unk>"])
        tokenizer = tf.T5Tokenizer(vocab=vocab, extra_ids=0)
        config = tf.T5Config(
            vocab_size=len(tokenizer),
            d_model=16,
            d_kv=4,
            d_ff=32,
            num_layers=2,
            num_decoder_layers=1,
            num_heads=4,
            relative_attention_num_buckets=8,
            **_token_ids(tokenizer, "pad", "eos", decoder_start="pad"),
        )
        model = tf.T5Model(config)
    elif family == "mbart":
        vocab = _unigram_vocab(["<s>", "<pad>", "</s>", "<unk>"])
        tokenizer = tf.MBartTokenizer(vocab=vocab, src_lang="en_XX", tgt_lang="de_DE")
        config = tf.MBartConfig(
            vocab_size=len(tokenizer),
            **_token_ids(tokenizer, "pad", "bos", "eos", decoder_start="eos"),
            **SEQ2SEQ_SIZE,
        )
        model = tf.MBartModel(config)
    else:
        raise ValueError(f"unknown encoder-decoder family {family!r}; choose from {SEQ2SEQ}")
    return _save(directory, model, tokenizer)


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
