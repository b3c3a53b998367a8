"""The ``attnbook`` command: a real model's attention for your own sentence.

``attnbook show`` prints (or draws) one head, ``attnbook heads`` ranks the
heads that link a word to others, ``attnbook view`` writes an interactive page
that works offline. Run ``attnbook --help`` or ``attnbook COMMAND --help``.

Every command returns an exit code instead of raising: 0 on success,
:data:`EXIT_BAD_INPUT` for input attnbook cannot use (the message says what to
change) and :data:`EXIT_NO_MODEL` when the model cannot be loaded or read.

>>> main(["--version"])  # doctest: +ELLIPSIS
attnbook ...
0
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from attnbook.errors import AttnbookError

EXIT_OK = 0
EXIT_BAD_INPUT = 2  # also what argparse uses for a malformed command line
EXIT_NO_MODEL = 3

EXIT_CODES_HELP = f"""\
exit codes:
  {EXIT_OK}  success
  {EXIT_BAD_INPUT}  bad input: malformed command line, empty or too long text, a word not in
     the sentence, a layer or head out of range, an output file that cannot be written
  {EXIT_NO_MODEL}  the model is not available offline or is not an encoder attnbook can read

Layer and head ids are 0-indexed (layer 0 is the first layer); negative ids count
from the end. The model is --model, else $ATTNBOOK_MODEL, else the embedded
sentence-transformers/all-MiniLM-L6-v2. Nothing is downloaded.
"""

MAIN_EPILOG = (
    """\
examples:
  attnbook show "The dog chased the cat."                  # last layer, head 0, as a table
  attnbook show "The dog chased the cat." --layer 2 --head 5 --out head.png
  attnbook heads "The dog chased the cat." --query chased --keys dog cat
  attnbook view "The dog chased the cat." --out view.html  # open it in a browser, offline
  echo "犬が猫を追う" | attnbook show -                       # read the text from stdin

"""
    + EXIT_CODES_HELP
)

SHOW_EPILOG = """\
examples:
  attnbook show "The dog chased the cat."
  attnbook show "The dog chased the cat." --layer 0 --head 3 --words
  attnbook show "The dog chased the cat." --out head.svg --annotate
  attnbook show "The dog chased the cat." --model bert-base-uncased --layer 11 --head 0
"""

HEADS_EPILOG = """\
examples:
  attnbook heads "The dog chased the cat." --query chased --keys dog cat
  attnbook heads "The dog chased the cat." --query chased --keys the#1 -k 10
  attnbook heads "The cat saw the cat." --query saw --keys cat --occurrence 0

A key written WORD#N means the N-th occurrence of WORD (0 = first).
Weights of split words follow Clark et al. (2019): summed over a key's
pieces, averaged over the query's pieces.
"""

VIEW_EPILOG = """\
examples:
  attnbook view "The dog chased the cat." --out view.html
  attnbook view "The dog chased the cat." --out model.html --kind model
  attnbook view "The dog chased the cat." --out view.html --layer 2 --head 5

The page is self-contained (inline script and style, no network), so it opens
from a file, a static site or an e-mail attachment.
"""


class CommandLineError(AttnbookError, ValueError):
    """Bad input found by the command line itself (before attnbook runs)."""


# ----- argument parsing ---------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _text_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", metavar="TEXT", help='the sentence; "-" reads it from stdin')
    parser.add_argument(
        "--model",
        "-m",
        metavar="M",
        default=None,
        help="a Hugging Face id in the local cache or a model directory "
        "(default: $ATTNBOOK_MODEL, else the embedded all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--allow-download",
        action="store_true",
        help="let transformers download --model from the Hugging Face hub if it is not cached",
    )
    parser.add_argument("--pair", metavar="TEXT2", help="a second sentence (a sentence pair)")
    parser.add_argument(
        "--truncate",
        action="store_true",
        help="keep only the first tokens the model accepts instead of failing on long text",
    )


def build_parser() -> argparse.ArgumentParser:
    from attnbook import __version__

    parser = argparse.ArgumentParser(
        prog="attnbook",
        description="See which words a real model's attention heads link, for your own text.",
        epilog=MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"attnbook {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    show = commands.add_parser(
        "show",
        help="one head's attention weights, as a table or a figure",
        description="One head's attention: rows are queries (the token that looks), "
        "columns are keys (the tokens looked at); each row sums to 1.",
        epilog=SHOW_EPILOG + "\n" + EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    _text_argument(show)
    show.add_argument(
        "--layer", "-l", type=int, default=-1, metavar="L", help="0-indexed (default: last)"
    )
    show.add_argument(
        "--head", "-H", type=int, default=0, metavar="H", help="0-indexed (default: 0)"
    )
    show.add_argument(
        "--words",
        action="store_true",
        help="whole words instead of sub-word tokens (Clark et al.'s rule)",
    )
    show.add_argument(
        "--out",
        "-o",
        metavar="FILE",
        help="draw a heatmap into FILE (.png, .svg or .pdf) instead of printing a table",
    )
    show.add_argument("--annotate", action="store_true", help="write each weight in its cell")
    show.add_argument(
        "--digits", type=int, default=3, metavar="N", help="decimals in the table (default: 3)"
    )
    show.set_defaults(run=_run_show)

    heads = commands.add_parser(
        "heads",
        help="rank the heads that attend most from one word to others",
        description="Rank every head by how much attention goes from the query word "
        "to the key words (their total weight).",
        epilog=HEADS_EPILOG + "\n" + EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    _text_argument(heads)
    heads.add_argument("--query", "-q", required=True, metavar="WORD", help="the word that looks")
    heads.add_argument(
        "--keys", required=True, nargs="+", metavar="WORD", help="the words looked at"
    )
    heads.add_argument("-k", type=int, default=5, metavar="K", help="how many heads (default: 5)")
    heads.add_argument(
        "--occurrence",
        type=int,
        default=0,
        metavar="N",
        help="which occurrence of the query word (0 = first)",
    )
    heads.add_argument("--digits", type=int, default=3, metavar="N", help="decimals (default: 3)")
    heads.set_defaults(run=_run_heads)

    view = commands.add_parser(
        "view",
        help="write an interactive, offline HTML view of every head",
        description="Write a standalone HTML page with the interactive head view "
        "(one layer and head at a time) or model view (every head at once).",
        epilog=VIEW_EPILOG + "\n" + EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    _text_argument(view)
    view.add_argument("--out", "-o", required=True, metavar="FILE", help="the .html file to write")
    view.add_argument(
        "--kind", choices=("head", "model"), default="head", help="which view (default: head)"
    )
    view.add_argument(
        "--layer", "-l", type=int, default=0, metavar="L", help="layer shown first (0-indexed)"
    )
    view.add_argument(
        "--head", "-H", type=int, default=0, metavar="H", help="head shown first (0-indexed)"
    )
    view.add_argument(
        "--top-k",
        type=int,
        default=None,
        metavar="K",
        help="keep each query's K largest weights (default: all for short texts, "
        "the top 8 for long ones)",
    )
    view.set_defaults(run=_run_view)
    return parser


# ----- commands -------------------------------------------------------------


def _read_text(text: str, stdin: TextIO) -> str:
    return stdin.read().strip() if text == "-" else text


def _attend(args: argparse.Namespace, stdin: TextIO) -> Any:
    from attnbook.maps import attend
    from attnbook.models import load_model

    text = _read_text(args.text, stdin)
    model = load_model(args.model, allow_download=True) if args.allow_download else args.model
    return attend(text, model, pair=args.pair, truncation=args.truncate)


def _model_name(maps: Any) -> str:
    from attnbook.ids import short_model_name

    return short_model_name(maps.model_id)


def _figure_formats() -> tuple[str, ...]:
    from attnbook.plot.style import SAVE_FORMATS

    # PNG first in the messages: what most people want from a command line.
    return tuple(sorted(SAVE_FORMATS, key=lambda fmt: fmt != "png"))


def _check_digits(digits: int) -> None:
    if not 0 <= digits <= 12:
        raise CommandLineError(f"--digits must be between 0 and 12, got {digits}.")


def _output_path(out: str, suffixes: Sequence[str]) -> Path:
    # Checked before the model runs, so a typo costs no waiting.
    path = Path(out)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in suffixes:
        raise CommandLineError(
            f"cannot tell the format of {out!r}: give a file name ending in "
            + ", ".join(f".{s}" for s in suffixes)
            + "."
        )
    if not path.parent.is_dir():
        raise CommandLineError(
            f"cannot write {out!r}: the directory {str(path.parent)!r} does not exist."
        )
    return path


def _table(frame: Any, digits: int) -> str:
    import pandas as pd

    with pd.option_context(
        "display.unicode.east_asian_width", True, "display.unicode.ambiguous_as_wide", False
    ):
        return frame.to_string(float_format=lambda x: f"{x:.{digits}f}")


def _run_show(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    _check_digits(args.digits)
    path = _output_path(args.out, _figure_formats()) if args.out else None
    maps = _attend(args, stdin)
    if args.words:
        maps = maps.to_words()
    maps.head(args.layer, args.head)  # raises Layer/HeadOutOfRangeError with the valid ids
    layer, head = args.layer % maps.num_layers, args.head % maps.num_heads
    if path is not None:
        import matplotlib.pyplot as plt

        from attnbook import plot

        fig = plot.heatmap(maps, layer, head, annotate=args.annotate)
        try:
            _write(lambda: plot.save(fig, path), path)
        finally:
            plt.close(fig)
        print(
            f"wrote {path} ({_model_name(maps)}, layer {layer}, head {head}; 0-indexed)", file=out
        )
        return EXIT_OK
    level = "words" if args.words else "tokens"
    print(
        f"{_model_name(maps)} — layer {layer}, head {head} (0-indexed), {level}; "
        "rows = queries (who looks), columns = keys (looked at), each row sums to 1",
        file=out,
    )
    print(_table(maps.to_dataframe(layer, head), args.digits), file=out)
    return EXIT_OK


_KEY_WITH_OCCURRENCE = re.compile(r"^(.*[^#])#(\d+)$")


def _key_spec(key: str) -> str | tuple[str, int]:
    match = _KEY_WITH_OCCURRENCE.match(key)
    return (match.group(1), int(match.group(2))) if match else key


def _run_heads(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    _check_digits(args.digits)
    if args.k < 1:
        raise CommandLineError(f"-k must be at least 1, got {args.k}.")
    maps = _attend(args, stdin)
    keys = [_key_spec(k) for k in args.keys]
    top = maps.top_heads(args.query, keys, k=args.k, occurrence=args.occurrence)
    top.insert(0, "rank", range(1, len(top) + 1))
    shown = ", ".join(repr(k) for k in args.keys)
    print(
        f"{_model_name(maps)} — the {len(top)} heads with most attention from "
        f"{args.query!r} to {shown} (of {maps.num_layers * maps.num_heads}); "
        "layer and head are 0-indexed; weight = total over the keys",
        file=out,
    )
    print(_table(top.set_index("rank"), args.digits), file=out)
    return EXIT_OK


def _run_view(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from attnbook import view

    path = _output_path(args.out, ("html", "htm"))
    if args.top_k is not None and args.top_k < 1:
        raise CommandLineError(f"--top-k must be at least 1, got {args.top_k}.")
    maps = _attend(args, stdin)
    maps.head(args.layer, args.head)  # raises Layer/HeadOutOfRangeError with the valid ids
    layer, head = args.layer % maps.num_layers, args.head % maps.num_heads
    make = view.head_view if args.kind == "head" else view.model_view
    page = make(maps, layer=layer, head=head, top_k=args.top_k)
    _write(lambda: page.save(path), path)
    print(f"wrote {path} ({args.kind} view of {_model_name(maps)}; open it in a browser)", file=out)
    return EXIT_OK


def _write(action: Any, path: Path) -> None:
    try:
        action()
    except OSError as exc:
        raise CommandLineError(f"cannot write {str(path)!r}: {exc.strerror or exc}.") from None


# ----- entry point ----------------------------------------------------------


def _exit_code(error: BaseException) -> int:
    from attnbook.errors import ModelNotAvailableError, NoAttentionError, UnsupportedModelError

    if isinstance(error, (ModelNotAvailableError, UnsupportedModelError, NoAttentionError)):
        return EXIT_NO_MODEL
    return EXIT_BAD_INPUT


def _hint(error: BaseException) -> str:
    from attnbook.errors import ModelNotAvailableError, TextTooLongError

    if isinstance(error, TextTooLongError):
        return " (on the command line: add --truncate)"
    if isinstance(error, ModelNotAvailableError) and "allow_download" in str(error):
        return " (on the command line: add --allow-download)"
    return ""


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the ``attnbook`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    User errors are reported on ``stderr`` as ``attnbook: error: ...`` with
    exit code 2 (bad input) or 3 (model not available), never as a traceback.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if args.command is None:
        parser.print_help(err)
        return EXIT_BAD_INPUT

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = args.run(args, out, stdin or sys.stdin)
    except AttnbookError as error:  # CommandLineError included
        print(f"attnbook {args.command}: error: {error}{_hint(error)}", file=err)
        return _exit_code(error)
    except BrokenPipeError:  # e.g. `attnbook show ... | head`
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    for warning in caught:
        # attnbook's own warnings matter to the reader; library chatter does not.
        if warning.category.__module__.startswith("attnbook"):
            print(f"attnbook {args.command}: warning: {warning.message}", file=err)
    return code
