"""The playground's pieces without a browser: the JS tokenizer equals the Python one; the export.

The tokenizer (``attnbook/playground/tokenizer.js``) runs under Node on sentences
generated here — accents, punctuation, digits, emoji, Japanese, control and
odd whitespace characters — and must give exactly the tokens (and words) of
the Python tokenizer that :func:`attnbook.attend` uses.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import attnbook
from attnbook.models import load_model

TOKENIZER_JS = Path(attnbook.__file__).parent / "playground" / "tokenizer.js"
NODE = shutil.which("node")

_NODE_TOKENISE = """
require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const tok = globalThis.attnbookTokenizer.create(input.vocab);
process.stdout.write(JSON.stringify(input.texts.map((t) => tok.tokenise(t))));
"""

PIECES = [
    "The",
    "dog",
    "chased",
    "the",
    "cat",
    "unbelievably",
    "naïve",
    "Café",
    "résumé",
    "Ångström",
    "façade",
    "São",
    "Paulo",
    "Zürich",
    "ÉCOLE",
    "İstanbul",
    "straße",
    "ΣΟΦΙΑ",
    "Москва",
    "42",
    "3.14159",
    "1,000,000",
    "2026-12-01",
    "e-mail",
    "don't",
    "(yes)",
    "[CLS]",
    "<b>bold</b>",
    "</script>",
    "&amp;",
    "#hash",
    "@user",
    "snake_case",
    "C++",
    "“quoted”",
    "—",
    "…",
    "«guillemets»",
    "¿qué?",
    "¡sí!",
    "😀",
    "👍🏽",
    "🇯🇵",
    "❤️",
    "犬が猫を追う",
    "その猫は可愛い",
    "東京",
    "カタカナ",
    "ひらがな",
    "ｶﾀｶﾅ",
    "ＡＢＣ",
    "１２３",
    "한국어",
    "中文字符",
    "ﬁ",
    "x²",
    "½",
    "\u00a0",
    "\t",
    "\u200b",
    "\u3000",
    "e\u0301",
    "a\u0000b",
    "\ufffd",
    "supercalifragilisticexpialidocious" * 4,
]


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choices(PIECES, k=rng.randint(1, 12))
        joiners = [rng.choice([" ", " ", " ", "", "  ", "\n"]) for _ in words]
        out.append("".join(w + j for w, j in zip(words, joiners, strict=True)).strip() or "x")
    return out


def js_tokenise(texts: list[str], vocab: list[str]) -> list[dict]:
    if NODE is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    run = subprocess.run(
        [NODE, "-e", _NODE_TOKENISE, str(TOKENIZER_JS)],
        input=json.dumps({"texts": texts, "vocab": vocab}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def tokenizer():
    return load_model()[0]


@pytest.fixture(scope="module")
def vocab(tokenizer):
    pairs = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return [t for t, _ in pairs]


def test_js_tokenizer_equals_python_on_generated_sentences(tokenizer, vocab):
    texts = sentences(300) + [
        "犬が猫を追う",
        "Ünïcödé   ăccents!!",
        "a" * 101,
        "😀😀",
        "-",
        "x\u0301y",
    ]
    got = js_tokenise(texts, vocab)
    mismatches = []
    for text, js in zip(texts, got, strict=True):
        enc = tokenizer(text, add_special_tokens=False)
        want = tokenizer.convert_ids_to_tokens(enc["input_ids"])
        if js["tokens"] != want or js["ids"] != enc["input_ids"]:
            mismatches.append((text, js["tokens"], want))
        assert js["wordIds"] == enc.word_ids(), text
    assert mismatches == [], mismatches[:3]
    # The generated set really exercises the hard cases.
    every = [t for js in got for t in js["tokens"]]
    assert "[UNK]" in every and any(t.startswith("##") for t in every)
    assert "cafe" in every and "か" in every  # accents and voiced marks stripped


def test_js_words_are_the_words_attend_reports(vocab):
    texts = ["The dog chased the cat unbelievably.", "Café naïve, 3.14 apples!", "犬が猫を追う"]
    for text, js in zip(texts, js_tokenise(texts, vocab), strict=True):
        with pytest.warns(attnbook.UnknownTokenWarning) if "猫" in text else _nothing():
            maps = attnbook.attend(text)
        assert js["words"] == maps.words
        assert ["[CLS]", *js["tokens"], "[SEP]"] == maps.tokens


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_exported_graph_reproduces_attend(tmp_path):
    pytest.importorskip("onnxruntime")
    from attnbook.playground.export import export_onnx, fidelity, widen

    _, model = load_model()
    path = export_onnx(model, tmp_path / "model.onnx")
    f16 = Path(f"{path}.f16").read_bytes()
    # The graph keeps no float32 copy of what the .f16 file carries: its own size
    # is small, and the widened matrices are exactly float16 values.
    assert path.stat().st_size < 1_000_000 < len(f16)
    # Optimised at export (onnxruntime's basic level: constants folded), so the
    # browser starts its session with optimisation disabled.
    import onnx

    graph = onnx.load(str(path), load_external_data=False)
    assert [n.op_type for n in graph.graph.node].count("Constant") == 0
    assert {o.domain for o in graph.opset_import} == {""}
    wide = np.frombuffer(widen(f16), np.float32)
    assert np.array_equal(wide.astype(np.float16).astype(np.float32), wide)
    # The word table stays out of the graph (the page looks up each sentence's
    # rows): the graph reads word vectors, holds no [V, D] table, and the
    # .words.f16 file is the model's table rounded to float16, row = token id.
    table = model.get_input_embeddings().weight.detach().numpy()
    assert [i.name for i in graph.graph.input] == ["words"]
    assert all(list(t.dims) != list(table.shape) for t in graph.graph.initializer)
    words = np.frombuffer(Path(f"{path}.words.f16").read_bytes(), "<f2").reshape(table.shape)
    assert np.array_equal(words, table.astype(np.float16))
    texts = ["The dog chased the cat.", "A completely different sentence, with 12 words or so!"]
    worst = fidelity(path, texts)
    assert 0 < worst <= 0.01  # compressed (not bit-equal), within the playground's bound
