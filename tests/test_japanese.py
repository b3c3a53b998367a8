"""Japanese models (attnbook[ja]): a tiny MeCab + WordPiece BERT built locally, slow-tokenizer path."""

from __future__ import annotations

import warnings

import pytest
import torch

pytest.importorskip("fugashi")
pytest.importorskip("unidic_lite")

import transformers  # noqa: E402
from tiny_models import SMALL  # noqa: E402

import attnbook  # noqa: E402
from attnbook import attend  # noqa: E402
from attnbook.maps import recompute_attentions  # noqa: E402

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB += ["犬", "が", "猫", "を", "追", "##う", "その", "は", "可愛い", "。", "A"]


@pytest.fixture(scope="module")
def ja_model(tmp_path_factory):
    """Tiny Japanese BERT: MeCab (unidic-lite) words, then WordPiece; '追う' is split as 追 ##う."""
    directory = tmp_path_factory.mktemp("tiny-ja")
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = transformers.BertJapaneseTokenizer(
        str(vocab_file),
        word_tokenizer_type="mecab",
        subword_tokenizer_type="wordpiece",
        mecab_kwargs={"mecab_dic": "unidic_lite"},
    )
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(VOCAB), **SMALL)
    transformers.utils.logging.disable_progress_bar()
    out = directory / "model"
    transformers.BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def plain(path, text, pair=None):
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(
        path, local_files_only=True, attn_implementation="eager"
    ).eval()
    enc = tokenizer(text, pair, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return enc, torch.cat(out.attentions)


def test_the_tokenizer_is_slow_and_japanese(ja_model):
    tokenizer, _ = attnbook.load_model(ja_model)
    assert isinstance(tokenizer, transformers.BertJapaneseTokenizer)
    assert not tokenizer.is_fast  # so there is no word_ids(); attnbook aligns words itself


def test_words_and_word_ids(ja_model):
    maps = attend("犬が猫を追う", ja_model)
    assert maps.tokens == ["[CLS]", "犬", "が", "猫", "を", "追", "##う", "[SEP]"]
    assert maps.words == ["犬", "が", "猫", "を", "追う"]
    assert maps.word_ids == [None, 0, 1, 2, 3, 4, 4, None]
    assert maps.special.tolist() == [True] + [False] * 6 + [True]
    assert maps.token_index("追う") == [5, 6]


def test_same_ids_and_attentions_as_plain_transformers(ja_model):
    enc, reference = plain(ja_model, "犬が猫を追う")
    maps = attend("犬が猫を追う", ja_model)
    tokenizer, _ = attnbook.load_model(ja_model)
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"][0]) == maps.tokens
    assert (maps.attentions - reference).abs().max().item() <= 1e-6


def test_pair_keeps_the_boundary(ja_model):
    enc, reference = plain(ja_model, "犬が猫を追う", "その猫は可愛い。")
    maps = attend("犬が猫を追う", ja_model, pair="その猫は可愛い。")
    assert (maps.attentions - reference).abs().max().item() <= 1e-6
    assert maps.tokens == ["[CLS]", "犬", "が", "猫", "を", "追", "##う", "[SEP]"] + [
        "その",
        "猫",
        "は",
        "可愛い",
        "。",
        "[SEP]",
    ]
    assert maps.segment_ids == [0] * 8 + [1] * 6
    assert maps.sep_positions == [7, 13]
    assert maps.words[5:] == ["その", "猫", "は", "可愛い", "。"]
    assert maps.token_index("猫", occurrence=1) == [9]


def test_to_words_merges_the_split_verb(ja_model):
    maps = attend("犬が猫を追う", ja_model)
    words = maps.to_words()
    assert words.tokens == ["[CLS]", "犬", "が", "猫", "を", "追う", "[SEP]"]
    a, w = maps.attentions, words.attentions
    # to 追う: summed over 追 and ##う; from 追う: averaged over them
    torch.testing.assert_close(w[:, :, 1, 5], a[:, :, 1, 5] + a[:, :, 1, 6])
    torch.testing.assert_close(w[:, :, 5, 1], (a[:, :, 5, 1] + a[:, :, 6, 1]) / 2)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 7))
    top = maps.top_heads("追う", ["犬", "猫"], k=2)
    expected = (w[:, :, 5, 1] + w[:, :, 5, 3]).reshape(-1).sort(descending=True).values[:2]
    torch.testing.assert_close(torch.tensor(top["weight"].to_numpy()), expected)


def test_words_keep_the_original_width(ja_model):
    # MeCab's tokenizer NFKC-normalises the full-width Ａ; the word is still shown as written.
    maps = attend("犬がＡを追う", ja_model)
    assert "Ａ" in maps.words and "A" in maps.tokens
    assert maps.token_index("Ａ") == maps.token_index("A")


def test_no_unknown_token_warning_with_a_japanese_vocabulary(ja_model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attend("犬が猫を追う", ja_model)


def test_recompute_on_the_slow_tokenizer_path(ja_model):
    maps = attend("犬が猫を追う", ja_model)
    mine = recompute_attentions(ja_model, "犬が猫を追う")
    assert (mine - maps.attentions).abs().max().item() <= 1e-5


def test_too_long_on_the_slow_path(ja_model):
    with pytest.raises(attnbook.TextTooLongError, match="at most 5"):
        attend("犬が猫を追う", ja_model, max_length=5)
    cut = attend("犬が猫を追う", ja_model, max_length=5, truncation=True)
    assert cut.tokens == ["[CLS]", "犬", "が", "猫", "[SEP]"]
    assert cut.words == ["犬", "が", "猫"]


def test_missing_fugashi_says_install_the_ja_extra(ja_model, tmp_path, monkeypatch):
    import shutil
    import sys

    copy = shutil.copytree(ja_model, tmp_path / "uncached-copy")  # not in attnbook's cache
    monkeypatch.setitem(sys.modules, "fugashi", None)  # as if attnbook[ja] were not installed
    with pytest.raises(attnbook.errors.MissingDependencyError, match=r"attnbook\[ja\]") as info:
        attnbook.load_model(str(copy))
    assert isinstance(info.value, ImportError)
