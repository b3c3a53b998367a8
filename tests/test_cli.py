"""The ``attnbook`` command, run in-process through ``main([...])``.

Numbers printed by the command are checked against :func:`attnbook.attend`
(and, for the head ranking, against sums over the raw attention tensor), so a
command that printed the wrong head, layer or order would fail.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

from attnbook import attend, plot
from attnbook.cli import EXIT_BAD_INPUT, EXIT_NO_MODEL, EXIT_OK, main
from attnbook.view import MAX_ERROR, decode_payload

TEXT = "The dog chased the cat."


@pytest.fixture(scope="module")
def maps():
    return attend(TEXT)


def parse_table(text: str) -> tuple[list[str], list[str], torch.Tensor]:
    """Column labels, row labels and values of a printed DataFrame (one header line first)."""
    lines = text.strip().splitlines()
    columns = lines[1].split()[1:]  # "key  [CLS] the ..."
    rows, values = [], []
    for line in lines[3:]:  # after the "query" index-name line
        label, *numbers = line.split()
        rows.append(label)
        values.append([float(x) for x in numbers])
    return columns, rows, torch.tensor(values)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----- show -----------------------------------------------------------------


def test_show_prints_last_layer_head_0_by_default(capsys, maps):
    code, out, err = run(capsys, "show", TEXT)
    assert code == EXIT_OK and err == ""
    assert f"layer {maps.num_layers - 1}, head 0 (0-indexed)" in out.splitlines()[0]
    columns, rows, values = parse_table(out)
    assert columns == rows == maps.tokens
    expected = maps.head(maps.num_layers - 1, 0)
    assert torch.allclose(values, expected, atol=0.0005 + 1e-9)


def test_show_layer_head_words_digits(capsys, maps):
    code, out, _ = run(
        capsys, "show", TEXT, "--layer", "2", "--head", "5", "--words", "--digits", "5"
    )
    assert code == EXIT_OK
    words = maps.to_words()
    columns, rows, values = parse_table(out)
    assert rows == words.tokens and "words" in out.splitlines()[0]
    assert torch.allclose(values, words.head(2, 5), atol=0.000005 + 1e-9)
    # A different head has different numbers, so the comparison above can fail.
    assert not torch.allclose(values, words.head(2, 6), atol=0.000005)


def test_show_negative_ids_count_from_the_end(capsys, maps):
    code, out, _ = run(capsys, "show", TEXT, "--layer", "-2", "--head", "-1")
    assert code == EXIT_OK
    assert f"layer {maps.num_layers - 2}, head {maps.num_heads - 1} (0-indexed)" in out
    _, _, values = parse_table(out)
    assert torch.allclose(values, maps.head(-2, -1), atol=0.0005 + 1e-9)


def test_show_reads_text_from_stdin(capsys, monkeypatch, maps):
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEXT + "\n"))
    code, out, _ = run(capsys, "show", "-")
    assert code == EXIT_OK
    assert parse_table(out)[1] == maps.tokens


def test_show_pair(capsys):
    pair = attend("The dog barks.", pair="It is loud.")
    code, out, _ = run(capsys, "show", "The dog barks.", "--pair", "It is loud.", "--layer", "1")
    assert code == EXIT_OK
    _, rows, values = parse_table(out)
    assert rows == pair.tokens
    assert torch.allclose(values, pair.head(1, 0), atol=0.0005 + 1e-9)


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_show_out_writes_the_same_figure_as_the_library(capsys, tmp_path, maps, suffix):
    path = tmp_path / f"head.{suffix}"
    code, out, _ = run(capsys, "show", TEXT, "--layer", "2", "--head", "5", "--out", str(path))
    assert code == EXIT_OK and str(path) in out
    fig = plot.heatmap(maps, 2, 5)
    assert path.read_bytes() == plot.figure_bytes(fig, suffix)
    other = plot.heatmap(maps, 2, 6)
    assert path.read_bytes() != plot.figure_bytes(other, suffix)


def test_show_out_is_deterministic_and_annotate_changes_it(capsys, tmp_path):
    paths = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    for path in paths[:2]:
        assert run(capsys, "show", TEXT, "--out", str(path))[0] == EXIT_OK
    assert run(capsys, "show", TEXT, "--out", str(paths[2]), "--annotate")[0] == EXIT_OK
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


# ----- heads ----------------------------------------------------------------


def parse_heads(out: str) -> tuple[list[str], list[list[float]]]:
    lines = out.strip().splitlines()
    header = lines[1].split()
    return header, [[float(x) for x in line.split()] for line in lines[3:]]


def test_heads_ranks_like_a_direct_sum_over_the_tensor(capsys, maps):
    code, out, err = run(
        capsys, "heads", TEXT, "--query", "chased", "--keys", "dog", "cat", "-k", "7"
    )
    assert code == EXIT_OK and err == ""
    assert "0-indexed" in out.splitlines()[0]
    header, rows = parse_heads(out)
    assert header == ["layer", "head", "dog", "cat", "weight"]
    q, dog, cat = (maps.tokens.index(w) for w in ("chased", "dog", "cat"))
    total = maps.attentions[:, :, q, dog] + maps.attentions[:, :, q, cat]  # [L, H]
    best = torch.topk(total.reshape(-1), 7).indices
    expected = [(int(i) // maps.num_heads, int(i) % maps.num_heads) for i in best]
    assert [(int(r[1]), int(r[2])) for r in rows] == expected
    assert [int(r[0]) for r in rows] == list(range(1, 8))  # rank column
    for _rank, layer, head, w_dog, w_cat, weight in rows:
        assert w_dog == pytest.approx(
            float(maps.attentions[int(layer), int(head), q, dog]), abs=6e-4
        )
        assert w_cat == pytest.approx(
            float(maps.attentions[int(layer), int(head), q, cat]), abs=6e-4
        )
        assert weight == pytest.approx(float(total[int(layer), int(head)]), abs=6e-4)


def test_heads_default_k_and_occurrence_syntax(capsys, maps):
    code, out, _ = run(capsys, "heads", TEXT, "--query", "cat", "--keys", "the#1", "the")
    assert code == EXIT_OK
    header, rows = parse_heads(out)
    assert len(rows) == 5
    assert header == ["layer", "head", "the#1", "the", "weight"]
    q = maps.tokens.index("cat")
    first, second = [i for i, t in enumerate(maps.tokens) if t == "the"]
    for _, layer, head, w_second, w_first, _ in rows:
        assert w_second == pytest.approx(
            float(maps.attentions[int(layer), int(head), q, second]), abs=6e-4
        )
        assert w_first == pytest.approx(
            float(maps.attentions[int(layer), int(head), q, first]), abs=6e-4
        )


def test_heads_query_occurrence(capsys, maps):
    code, out, _ = run(
        capsys, "heads", TEXT, "--query", "the", "--occurrence", "1", "--keys", "cat", "-k", "72"
    )
    assert code == EXIT_OK
    _, rows = parse_heads(out)
    q = [i for i, t in enumerate(maps.tokens) if t == "the"][1]
    c = maps.tokens.index("cat")
    layer, head = int(rows[0][1]), int(rows[0][2])
    assert float(maps.attentions[layer, head, q, c]) == pytest.approx(
        float(maps.attentions[:, :, q, c].max()), abs=1e-6
    )


# ----- view -----------------------------------------------------------------


def embedded_payload(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" class="attnbook-data">(.*?)</script>', page, re.S
    )
    assert match, "the page has no embedded view data"
    return json.loads(match.group(1))


@pytest.mark.parametrize("kind", ["head", "model"])
def test_view_writes_a_standalone_page_with_the_models_weights(capsys, tmp_path, maps, kind):
    path = tmp_path / "view.html"
    code, out, err = run(
        capsys, "view", TEXT, "--out", str(path), "--kind", kind, "--layer", "3", "--head", "-1"
    )
    assert code == EXIT_OK and str(path) in out and err == ""
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and f'data-kind="{kind}"' in page
    # Offline: nothing is loaded from anywhere, everything is inline.
    assert "<script src" not in page and "<link" not in page
    payload = embedded_payload(page)
    assert payload["view"]["kind"] == kind
    assert (payload["view"]["layer"], payload["view"]["head"]) == (3, maps.num_heads - 1)
    weights = torch.from_numpy(decode_payload(payload)["self"]["token"])
    assert weights.shape == maps.attentions.shape
    assert float((weights - maps.attentions).abs().max()) <= MAX_ERROR + 1e-6


def test_view_top_k_keeps_k_weights_per_query(capsys, tmp_path):
    path = tmp_path / "view.html"
    assert run(capsys, "view", TEXT, "--out", str(path), "--top-k", "2")[0] == EXIT_OK
    weights = decode_payload(embedded_payload(path.read_text(encoding="utf-8")))["self"]["token"]
    assert int((weights > 0).sum(axis=-1).max()) <= 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--layer", "6"], "layer 6 is out of range"),
        (["--head", "-13"], "head -13 is out of range"),
        (["--top-k", "0"], "--top-k"),
    ],
)
def test_view_bad_input_exits_2(capsys, tmp_path, argv, needle):
    path = tmp_path / "view.html"
    code, out, err = run(capsys, "view", TEXT, "--out", str(path), *argv)
    assert code == EXIT_BAD_INPUT and out == "" and needle in err
    assert not path.exists()


# ----- help, version --------------------------------------------------------


def test_version(capsys):
    from attnbook import __version__

    code, out, _ = run(capsys, "--version")
    assert code == EXIT_OK and out.strip() == f"attnbook {__version__}"


@pytest.mark.parametrize("command", [[], ["show"], ["heads"], ["view"]])
def test_help_has_examples_and_exit_codes(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == EXIT_OK
    assert "examples:" in out and "exit codes:" in out and "0-indexed" in out
    assert f"  {EXIT_BAD_INPUT}  bad input" in out and f"  {EXIT_NO_MODEL}  the model" in out


def test_no_command_prints_help_and_fails(capsys):
    code, out, err = run(capsys)
    assert code == EXIT_BAD_INPUT and "usage: attnbook" in err and "examples:" in err


# ----- errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["show", "   "], "empty"),
        (["show", TEXT, "--layer", "6"], "layer 6 is out of range"),
        (["show", TEXT, "--head", "12"], "head 12 is out of range"),
        (["show", TEXT, "--out", "fig.gif"], ".png, .svg, .pdf"),
        (["show", TEXT, "--out", "/nonexistent-dir/fig.png"], "does not exist"),
        (["show", TEXT, "--digits", "-1"], "--digits"),
        (["heads", TEXT, "--query", "bird", "--keys", "dog"], "'bird' is not in the sentence"),
        (["heads", TEXT, "--query", "chased", "--keys", "dog#3"], "occurs 1 time"),
        (["heads", TEXT, "--query", "chased", "--keys", "dog", "-k", "0"], "-k must be"),
        (["heads", TEXT, "--query", "dog", "--occurrence", "2", "--keys", "cat"], "occurrence"),
        (["view", TEXT, "--out", "view.txt"], ".html"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith(f"attnbook {argv[0]}: error: ") and needle in err
    assert "Traceback" not in err


def test_command_line_errors_are_attnbook_value_errors():
    from attnbook import AttnbookError
    from attnbook.cli import CommandLineError, _check_digits, _figure_formats, _output_path

    assert issubclass(CommandLineError, AttnbookError) and issubclass(CommandLineError, ValueError)
    with pytest.raises(ValueError, match="--digits must be between 0 and 12"):
        _check_digits(13)
    # `show --out` accepts exactly the formats plot.save writes.
    assert set(_figure_formats()) == set(plot.style.SAVE_FORMATS)
    for fmt in plot.style.SAVE_FORMATS:
        assert _output_path(f"fig.{fmt.upper()}", _figure_formats()).suffix == f".{fmt.upper()}"
    with pytest.raises(AttnbookError, match=r"\.png, \.svg, \.pdf\."):
        _output_path("fig.jpg", _figure_formats())


@pytest.mark.parametrize(
    "argv",
    [["show"], ["heads", TEXT, "--query", "dog"], ["show", TEXT, "--layer", "two"], ["frobnicate"]],
)
def test_malformed_command_line_exits_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == EXIT_BAD_INPUT and "usage:" in err and "error:" in err


def test_text_too_long_suggests_truncate_and_truncate_works(capsys):
    long_text = "the dog chased the cat " * 120  # 600 words, more than 512 tokens
    code, _, err = run(capsys, "heads", long_text, "--query", "dog", "--keys", "cat")
    assert code == EXIT_BAD_INPUT and "--truncate" in err and "512" in err
    code, out, _ = run(capsys, "heads", long_text, "--query", "dog", "--keys", "cat", "--truncate")
    assert code == EXIT_OK
    truncated = attend(long_text, truncation=True)
    top = truncated.top_heads("dog", ["cat"], k=1)
    _, rows = parse_heads(out)
    assert (int(rows[0][1]), int(rows[0][2])) == (int(top["layer"][0]), int(top["head"][0]))


def test_missing_model_exits_3(capsys, tmp_path):
    code, out, err = run(capsys, "show", TEXT, "--model", str(tmp_path / "no-such-model"))
    assert code == EXIT_NO_MODEL and out == ""
    assert "no model directory" in err and "Traceback" not in err


def test_unsupported_model_exits_3(capsys, tmp_path):
    # A directory that is not a model at all: attnbook must refuse it, not crash.
    (tmp_path / "config.json").write_text('{"model_type": "not-a-model"}')
    code, _, err = run(capsys, "show", TEXT, "--model", str(tmp_path))
    assert code == EXIT_NO_MODEL and err.startswith("attnbook show: error: ")


def test_unknown_token_warning_goes_to_stderr(capsys):
    code, out, err = run(capsys, "show", "犬が猫を追う")
    assert code == EXIT_OK and out.startswith("all-MiniLM-L6-v2")
    assert "attnbook show: warning:" in err and "Japanese" in err


# ----- the installed command ------------------------------------------------


@pytest.mark.slow
def test_installed_command_and_module():
    scripts = Path(sysconfig.get_path("scripts"))
    exe = scripts / "attnbook"
    if not exe.exists():
        pytest.skip(f"the console script is not installed in {scripts}: pip install -e .")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for cmd in ([str(exe), "--help"], [sys.executable, "-m", "attnbook", "--help"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == EXIT_OK, done.stderr
        assert "usage: attnbook" in done.stdout and "exit codes:" in done.stdout
    # A user error through the real entry point: a message and exit code 2, no traceback.
    done = subprocess.run(
        [str(exe), "show", ""], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == EXIT_BAD_INPUT
    assert done.stderr.startswith("attnbook show: error:") and "Traceback" not in done.stderr
