"""The glossary as the authority for Japanese terms (docs/tools/i18n.py check).

The check must fail on each variant the glossary rules out, must not fail on
the glossary's own forms, and must name the file, the message and the form.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "tools"))

i18n = pytest.importorskip("i18n", reason="docs/tools/i18n.py needs babel (docs extra)")

VARIANTS = i18n.load_variants()

# Sentences a translator might write, each with the variant the glossary rules
# out, and the glossary's form the check must name.
WRONG = [
    ("WordPiece のトークナイザは単語を分けます。", "トークナイザ", "トークナイザー"),
    ("モデルを訓練します。", "訓練", "学習"),
    (
        "アテンション・ロールアウトを計算します。",
        "アテンション・ロールアウト",
        "アテンションロールアウト",
    ),
    ("直前トークンのヘッドが見つかりました。", "直前トークンのヘッド", "直前トークンヘッド"),
    ("直前のトークンのヘッドです。", "直前のトークンのヘッド", "直前トークンヘッド"),
    ("直後トークンのヘッドはありません。", "直後トークンのヘッド", "直後トークンヘッド"),
    ("Clark et al. (2019) は句読点に注目しました。", "Clark et al.", "Clark ら"),
    ("デフォルトのモデルを使います。", "デフォルト", "既定"),
    ("統制された実験をします。", "統制された実験", "対照実験"),
    ("スケール化ドット積アテンション", "スケール化ドット積", "スケール化内積アテンション"),
    ("二つのベクトルのドット積です。", "ドット積", "内積"),
    ("BERT のエンコーダは両方向を読みます。", "エンコーダ", "エンコーダー"),
    ("デコーダは一語ずつ書きます。", "デコーダ", "デコーダー"),
    ("動詞の引数を見つけるヘッド", "動詞の引数", "項"),
    ("3 つの単語があります。", "3 つ", "一つ・二つ・三つ"),
    ("$2$ つのヘッド", "$2$ つ", "一つ・二つ・三つ"),
]

RIGHT = [
    "WordPiece のトークナイザーは単語を分けます。",
    "モデルを学習させます。",
    "アテンションロールアウトを計算します。",
    "直前トークンヘッドと直後トークンヘッドを探します。",
    "Clark ら (2019) は句読点に注目しました。",
    "既定のモデルを使います。",
    "対照実験をします。",
    "スケール化内積アテンションでは内積を $\\sqrt{d_k}$ で割ります。",
    "エンコーダーとデコーダー",
    "動詞とその項を見つけます。関数の引数 `model` に渡します。",
    "三つの単語と 12 個のヘッド、10 ステップごとに 0.3 つまり 30 %。",
    # Not Japanese prose: an English citation kept as it is.
    "Clark, K. et al. (2019). What does BERT look at?",
    # Inline code is an identifier, not a term.
    "`default_model()` は `attnbook.Tokenizer` を使います。",
]


def _found(text: str) -> list[tuple[str, str]]:
    return [(written, v.form) for written, v in i18n.term_problems(text, VARIANTS)]


@pytest.mark.parametrize(("text", "written", "form"), WRONG, ids=[w[1] for w in WRONG])
def test_a_variant_is_found_with_the_glossary_form(text, written, form):
    assert _found(text) == [(written, form)]


@pytest.mark.parametrize("text", RIGHT)
def test_the_glossary_forms_pass(text):
    assert _found(text) == []


def test_every_glossary_form_is_in_the_glossary():
    assert VARIANTS, "docs/glossary-variants.txt lists no variants"
    assert i18n.glossary_forms_missing(VARIANTS) == []


def test_every_variant_is_caught_and_its_form_is_not():
    # Each plain variant, dropped into a Japanese sentence, is reported under
    # its own form; each form, written alone, is not reported at all.
    for variant in VARIANTS:
        if not variant.written.startswith("/"):
            found = _found(f"ここで{variant.written}を使います。")
            assert (variant.written, variant.form) in found, variant
        assert _found(f"ここで{variant.form}を使います。") == [], variant.form


def test_a_form_the_glossary_lacks_is_reported(tmp_path):
    listing = tmp_path / "variants.txt"
    listing.write_text("# comment\nアテンション重み: 注意重み\n学習: 訓練\n", encoding="utf-8")
    variants = i18n.load_variants(listing)
    assert [v.form for v in variants] == ["アテンション重み", "学習"]
    assert i18n.glossary_forms_missing(variants) == ["アテンション重み"]


@pytest.mark.parametrize("line", ["学習 訓練", "学習: ", "学習: /([/"])
def test_a_malformed_list_fails_with_its_line(tmp_path, line):
    listing = tmp_path / "variants.txt"
    listing.write_text(f"# comment\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{listing}:2")):
        i18n.load_variants(listing)


def test_japanese_strings_in_code_cells_are_checked(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\nProse with デフォルト outside code is the catalogue's business.\n\n"
        "```{code-cell} ipython3\n"
        ":tags: [hide-input]\n"
        'book.text("s", en="The default model", ja="デフォルトのモデル")\n'
        "```\n",
        encoding="utf-8",
    )
    strings = list(i18n.code_strings(page))
    assert (7, "デフォルトのモデル") in strings
    lines = [
        problem
        for line, value in strings
        for problem in i18n._term_lines(f"{page}:{line}", value, VARIANTS, repr(value))
    ]
    assert lines == [
        f"{page}:7: glossary term: 'デフォルト' in 'デフォルトのモデル': the glossary writes '既定'"
    ]


def test_the_check_names_file_message_and_form(tmp_path, monkeypatch, capsys):
    # A one-page book whose Japanese catalogue uses a variant: check() fails
    # and its line names the .po file, the English message and the form.
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = Catalog(locale=None)
    template.add("The tokenizer splits words.", locations=[("page.md", 1)])
    catalogue = Catalog(locale="ja")
    catalogue.add("The tokenizer splits words.", "トークナイザは単語を分けます。")
    locales = tmp_path / "locales"
    po = locales / "ja" / "LC_MESSAGES" / "page.po"
    po.parent.mkdir(parents=True)
    with po.open("wb") as f:
        write_po(f, catalogue)
    monkeypatch.setattr(i18n, "LOCALES", locales)
    monkeypatch.setattr(i18n, "DOCS", tmp_path)
    monkeypatch.setattr(i18n, "PACKAGE", tmp_path / "no-package")
    monkeypatch.setattr(i18n, "build_templates", lambda out: {"page": template})
    assert i18n.check() == 1
    out = capsys.readouterr().out
    assert (
        f"{po}: glossary term: 'トークナイザ' in 'The tokenizer splits words.': "
        "the glossary writes 'トークナイザー'"
    ) in out


# --- spaces Japanese does not want around glued sentences ----------------------

PAGE = """\
```{code-cell} ipython3
:tags: [hide-input]
book.text("verdict", en="It wins.", ja="勝ちます。" if True else "負けます。")
book.text(f"ch_{lang}_sentence", en="x.", ja=f"{lang} です。")
book.text("words", en=" and ".join(w), ja=" と ".join(w))
```
"""


def test_sentence_keys_are_the_japanese_sentences_a_page_glues(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    keys = i18n.sentence_keys(page)
    assert [k.pattern for k in keys] == ["verdict", "ch_.+_sentence"]  # not the word list


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("勝負です。{glue:text}`verdict`次に進みます。", 0),
        ("勝負です。{glue:text}`verdict` 次に進みます。", 1),  # space after the sentence
        ("勝負です。 {glue:text}`verdict`次に進みます。", 1),  # and before it
        ("{glue:text}`ch_en_sentence` 次に。", 1),  # an f-string key
        ("重みは {glue:text}`w:.2f` です。", 0),  # a number: the book's spacing
        ("重みは {glue:text}`w:.2f` 。", 1),  # but never before 。
        ("語は {glue:text}`words` です。", 0),  # words and tokens, not sentences
    ],
)
def test_spacing_around_glued_text(text, problems):
    keys = [re.compile("verdict"), re.compile("ch_.+_sentence")]
    assert len(i18n.spacing_problems(text, keys)) == problems
