"""Tests for attnbook.view: payload accuracy and size, escaping, long inputs, BertViz hand-off."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_maps import synthetic_maps

import attnbook
from attnbook.maps import attend
from attnbook.view import (
    MAX_ERROR,
    AttentionView,
    ViewInputError,
    build_payload,
    decode_payload,
    head_view,
    model_view,
    to_bertviz,
)
from attnbook.view.payload import json_for_script, quantise

XSS = "</script><img src=x onerror=alert(1)>"
LONG_TEXT = (
    "Attention lets every token look at every other token, and the weights it learns tell us "
    "which words the model connects when it reads a sentence about a dog that chased a cat "
    "across the quiet garden at night while the owner slept soundly upstairs, unbelievably "
    "unaware of the commotion in the dark kitchen below and of the neighbours' complaints."
)


def payload_of(html: str) -> dict:
    found = re.findall(
        r'<script type="application/json" class="attnbook-data">(.*?)</script>', html
    )
    assert len(found) == 1
    return json.loads(found[0])


@pytest.fixture(scope="module")
def dog():
    return attend("The dog chased the cat unbelievably")


@pytest.fixture(scope="module")
def long64():
    maps = attend(LONG_TEXT, max_length=64, truncation=True)
    assert maps.num_tokens == 64
    return maps


def test_decoded_weights_are_within_the_documented_error(dog):
    back = decode_payload(payload_of(head_view(dog).html))["self"]
    for name, want in (("token", dog.attentions), ("word", dog.to_words().attentions)):
        err = (torch.from_numpy(back[name]) - want).abs().max().item()
        # The documented bound (half a step of 1/255) holds, and it is tight: over
        # thousands of weights some land close to half-way between two levels.
        assert err <= 0.5 / 255 + 1e-7, name
        assert err >= 0.9 * MAX_ERROR, name
    assert back["token"].shape == (6, 12, dog.num_tokens, dog.num_tokens)
    assert back["word"].shape == (6, 12, dog.to_words().num_tokens, dog.to_words().num_tokens)


VIEW_JS = Path(attnbook.view.__file__).with_name("view.js")
NODE = shutil.which("node")

# Runs view.js's decoder (the browser's, no DOM) under Node on a payload from stdin
# and prints every level's weights as [layer][head][query][key].
_NODE_DECODE = """
require(process.argv[1]);
const payload = JSON.parse(require("fs").readFileSync(0, "utf8"));
globalThis.attnbookView.decodePayload(payload).then((src) => {
  const out = {}, tokens = {};
  for (const part of src.parts) {
    for (const lv of part.levels) {
      const name = part.name + "/" + lv.name;
      out[name] = [];
      tokens[name] = [lv.query.tokens, lv.key.tokens];
      for (let l = 0; l < part.layers; l++) {
        const heads = [];
        for (let h = 0; h < part.heads; h++) {
          const w = lv.weights(l, h), rows = [];
          for (let i = 0; i < lv.nq; i++) rows.push(Array.from(w.subarray(i * lv.nk, (i + 1) * lv.nk)));
          heads.push(rows);
        }
        out[name].push(heads);
      }
    }
  }
  process.stdout.write(JSON.stringify({tokens, out}));
});
"""


def js_decode_parts(payload: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """view.js's decoder under Node: ("part/level" -> [query tokens, key tokens], -> weights)."""
    if NODE is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    run = subprocess.run(
        [NODE, "-e", _NODE_DECODE, str(VIEW_JS)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    got = json.loads(run.stdout)
    return got["tokens"], {k: np.asarray(v, dtype=np.float32) for k, v in got["out"].items()}


def js_decode(payload: dict) -> tuple[list, dict[str, np.ndarray]]:
    """A one-part ("self") payload decoded by view.js: (each level's tokens, level -> weights)."""
    tokens, out = js_decode_parts(payload)
    names = [k for k in out if k.startswith("self/")]
    return [tokens[k][0] for k in names], {k.split("/")[1]: out[k] for k in names}


def test_dense_bytes_are_key_major():
    # The layout the module docstring documents, checked from the raw bytes with
    # no attnbook decoder: byte j*T + i of a head's block is query i -> key j.
    maps = synthetic_maps(["[CLS]", "a", "b", "c", "[SEP]"], layers=2, heads=3, seed=4)
    payload = build_payload(maps, words=False)
    blob = zlib.decompress(base64.b64decode(payload["data"]))
    (part,) = payload["parts"]
    (level,) = part["levels"]
    n = level["nq"]
    att = maps.attentions.numpy().astype(np.float64)
    for block, offset in enumerate(level["offsets"]):
        layer, head = divmod(block, 3)
        raw = np.frombuffer(blob, np.uint8, n * n, offset)
        want = np.floor(att[layer, head] * 255 + 0.5).astype(np.uint8)  # [query, key]
        assert np.array_equal(raw.reshape(n, n), want.T), (layer, head)
    assert not np.allclose(att, att.transpose(0, 1, 3, 2))  # a transposed block would differ


@pytest.mark.parametrize("top_k", [None, 3])
def test_browser_decoder_gives_back_the_weights(top_k):
    # view.js's own decoder, run by Node, against the maps the payload was built
    # from: catches a layout change made in both the encoder and decode_payload.
    tokens = ["[CLS]", "x", XSS, "猫", "##s", "y", "[SEP]"]
    maps = synthetic_maps(tokens, layers=2, heads=3, seed=7)
    payload = build_payload(maps, top_k=top_k)
    got_tokens, back = js_decode(payload)
    assert got_tokens[0] == tokens
    want = maps.attentions.numpy()
    if top_k is not None:  # only each row's top k survive, the rest read as 0
        top = torch.topk(maps.attentions, top_k, dim=-1).indices
        want = (
            torch.zeros_like(maps.attentions)
            .scatter_(-1, top, maps.attentions.gather(-1, top))
            .numpy()
        )
    assert back["token"].shape == want.shape
    assert np.abs(back["token"] - want).max() <= MAX_ERROR + 1e-6
    assert np.array_equal(back["token"], decode_payload(payload)["self"]["token"])


def test_quantise_rounds_to_nearest_level():
    w = torch.tensor([0.0, 0.5 / 255 - 1e-6, 0.5 / 255 + 1e-6, 0.25, 1.0])
    assert quantise(w).tolist() == [0, 0, 1, 64, 255]
    with pytest.raises(ViewInputError, match=r"in \[0, 1\]"):
        quantise(torch.tensor([0.5, 1.5]))
    with pytest.raises(ViewInputError):
        quantise(torch.tensor([float("nan")]))


def test_64_token_sentence_fits_in_250_kb(long64):
    for view in (head_view(long64), model_view(long64)):
        size = len(view.html.encode("utf-8"))
        assert size == len(view)
        assert size <= 250_000, size
        assert payload_of(view.html)["parts"][0]["levels"][0]["layout"] == "dense"
    # The same tensor as full-precision JSON, as BertViz embeds it, is many times larger.
    assert len(json.dumps(long64.attentions.tolist())) > 8 * len(model_view(long64))


def test_view_loads_nothing_from_the_network(dog):
    page = model_view(dog).page()
    # The only URL is the SVG namespace string, which browsers never fetch.
    assert set(re.findall(r"https?://[^\s\"')]+", page)) == {"http://www.w3.org/2000/svg"}
    for marker in ("<link", " src=", "require(", "import(", "fetch(", "XMLHttpRequest", "@import"):
        assert marker not in page.replace(XSS, ""), marker


def test_tokens_are_escaped_in_the_payload():
    tokens = ["[CLS]", XSS, "a&b", "line\u2028break", "猫", "可愛い", "[SEP]"]
    view = head_view(synthetic_maps(tokens))
    html = view.html
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "<img" not in html and "\u2028" not in html
    assert payload_of(html)["parts"][0]["levels"][0]["query"]["tokens"] == tokens
    assert "猫" in html  # CJK stays readable in the source


def test_json_for_script_round_trips_and_hides_markup():
    obj = {"tokens": [XSS, "</SCRIPT >", "<!--", "]]>", "\u2029", "/"]}
    text = json_for_script(obj)
    assert not set("<>&") & set(text) and "/" not in text.replace("\\/", "")
    assert json.loads(text) == obj


def test_long_input_uses_top_k_per_query():
    maps = synthetic_maps([f"t{i}" for i in range(300)], layers=6, heads=12, seed=1)
    view = head_view(maps)
    payload = payload_of(view.html)
    (level,) = payload["parts"][0]["levels"][:1]
    assert (level["layout"], level["k"], level["nq"]) == ("topk", 8, 300)
    back = torch.from_numpy(decode_payload(payload)["self"]["token"])
    kept = back > 0
    assert int(kept.sum(-1).max()) <= 8
    # What is kept is each row's largest weights, within the quantisation error.
    top = torch.topk(maps.attentions, 8, dim=-1)
    got = torch.gather(back, -1, top.indices)
    assert (got - top.values).abs().max().item() <= MAX_ERROR + 1e-7
    # Everything else is dropped, and was smaller than the row's 8th largest weight.
    dropped = maps.attentions.clone().scatter_(-1, top.indices, 0)
    assert (dropped <= top.values[..., -1:]).all()
    assert back.scatter(-1, top.indices, 0).abs().max() == 0
    assert len(view) < 2_000_000


def test_explicit_top_k_and_dense_limit(dog):
    payload = build_payload(dog, top_k=3)
    assert {lv["layout"] for lv in payload["parts"][0]["levels"]} == {"topk"}
    assert all(lv["k"] == 3 for lv in payload["parts"][0]["levels"])
    back = decode_payload(payload)["self"]["token"]
    assert ((back > 0).sum(-1) <= 3).all()
    assert build_payload(dog, dense_limit=5)["parts"][0]["levels"][0]["layout"] == "topk"


def test_word_level_shares_blocks_when_no_word_is_split():
    maps = synthetic_maps(["[CLS]", "a", "b", "c", "[SEP]"])
    payload = build_payload(maps)
    token, word = payload["parts"][0]["levels"]
    assert word["offsets"] == token["offsets"]
    back = decode_payload(payload)["self"]
    assert np.array_equal(back["token"], back["word"])


def test_words_can_be_left_out(dog):
    assert [lv["name"] for lv in build_payload(dog, words=False)["parts"][0]["levels"]] == ["token"]
    word_maps = dog.to_words()
    assert [lv["name"] for lv in build_payload(word_maps)["parts"][0]["levels"]] == ["word"]


def test_view_object_html_and_page(dog, tmp_path):
    view = head_view(dog, layer=-1, head=3)
    assert isinstance(view, AttentionView)
    assert view._repr_html_() == view.html
    assert view.payload["view"] == {"kind": "head", "layer": 5, "head": 3, "threshold": 0.01}
    # Ids are made in the browser, so the same view twice on one page cannot clash.
    assert " id=" not in view.html
    path = view.save(tmp_path / "view.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert view.html in page
    assert head_view(dog, layer=-1, head=3).html == view.html  # deterministic


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"layer": 6}, "layer 6 is out of range"),
        ({"head": -13}, "head -13 is out of range"),
        ({"threshold": 1.0}, "threshold"),
        ({"top_k": 0}, "top_k"),
    ],
)
def test_bad_view_arguments(dog, kwargs, fragment):
    with pytest.raises(ViewInputError, match=fragment) as info:
        head_view(dog, **kwargs)
    assert isinstance(info.value, attnbook.AttnbookError)


def test_views_reject_non_maps():
    with pytest.raises(ViewInputError, match="expected an AttentionMaps"):
        model_view(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ViewInputError, match="expected an AttentionMaps"):
        to_bertviz("The dog")


def test_to_bertviz_has_the_shapes_bertviz_expects(dog):
    attention, tokens = to_bertviz(dog)
    assert isinstance(attention, tuple) and len(attention) == dog.num_layers
    assert all(a.shape == (1, 12, dog.num_tokens, dog.num_tokens) for a in attention)
    assert tokens == dog.tokens and all(isinstance(t, str) for t in tokens)
    # bertviz.util.format_attention: squeeze the batch and stack the layers.
    stacked = torch.stack([layer.squeeze(0) for layer in attention])
    assert torch.equal(stacked, dog.attentions)


def test_to_bertviz_equals_what_transformers_returns(dog):
    # The independent reference: the model's own output_attentions, which is
    # what BertViz's notebooks pass to bertviz.head_view.
    from transformers import AutoModel, AutoTokenizer

    path = attnbook.models.default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    enc = tokenizer(dog.text, return_tensors="pt")
    with torch.no_grad():
        ref = model(**enc, output_attentions=True).attentions
    attention, tokens = dog.to_bertviz()
    assert tokens == tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    assert len(attention) == len(ref)
    for got, want in zip(attention, ref, strict=True):
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-6)


def _causal(tokens, layers=2, heads=3, seed=0):
    """Synthetic causal maps: each row a softmax over the keys up to and including itself."""
    from dataclasses import replace

    maps = synthetic_maps(tokens, layers=layers, heads=heads, seed=seed)
    n = len(tokens)
    gen = torch.Generator().manual_seed(seed)
    scores = 3 * torch.randn(layers, heads, n, n, generator=gen)
    hidden = torch.ones(n, n, dtype=torch.bool).triu(1)
    att = torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1)
    return replace(maps, attentions=att, causal=True)


def test_causal_part_stores_only_the_lower_triangle():
    tokens = ["<s>", "a", "b", "猫", XSS, "c", "d"]
    maps = _causal(tokens, seed=5)
    payload = build_payload(maps, words=False)
    (part,) = payload["parts"]
    (level,) = part["levels"]
    assert part["causal"] is True and level["layout"] == "tril"
    n = len(tokens)
    blob = zlib.decompress(base64.b64decode(payload["data"]))
    assert len(blob) == 2 * 3 * n * (n + 1) // 2  # half a square per head, diagonal included
    offsets = level["offsets"]
    assert [b - a for a, b in zip(offsets, offsets[1:], strict=False)] == [n * (n + 1) // 2] * 5
    # Key-major from the raw bytes: key 0's column (queries 0..n-1) comes first.
    first = np.frombuffer(blob, np.uint8, n, offsets[0])
    want = np.floor(maps.attentions[0, 0, :, 0].numpy().astype(np.float64) * 255 + 0.5)
    assert np.array_equal(first, want.astype(np.uint8))
    back = decode_payload(payload)["self"]["token"]
    assert np.abs(back - maps.attentions.numpy()).max() <= MAX_ERROR + 1e-7
    assert (np.triu(back, 1) == 0).all()  # nothing above the diagonal, exactly
    got_tokens, js = js_decode(payload)
    assert got_tokens == [tokens] and np.array_equal(js["token"], back)
    # A bidirectional map of the same size is stored whole.
    assert (
        build_payload(synthetic_maps(tokens), words=False)["parts"][0]["levels"][0]["layout"]
        == "dense"
    )
