"""The tiny encoder-decoders of tests/tiny_models.py are reproducible.

Each family is built twice, in two separate processes with different
``PYTHONHASHSEED`` values (Python's and any other per-process randomness differ),
and every saved file must be byte-identical: a tokenizer whose ids depend on the
process would give other attention maps, and other test results, on every run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import transformers
from tiny_models import CORPUS, SEQ2SEQ, TARGET_CORPUS

HERE = Path(__file__).parent

BUILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from tiny_models import build_seq2seq\n"
    "for family in sys.argv[3:]: build_seq2seq(family, sys.argv[2])"
)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> list[Path]:
    """Two roots, each with every :data:`SEQ2SEQ` family built by its own process."""
    runs = []
    for hashseed in ("1", "2024"):
        root = tmp_path_factory.mktemp(f"hashseed-{hashseed}")
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        command = [sys.executable, "-c", BUILD, str(HERE), str(root), *SEQ2SEQ]
        # Both processes at once: half the wall time, and neither sees the other's state.
        runs.append((root, subprocess.Popen(command, env=env, stderr=subprocess.PIPE)))
    for _, process in runs:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode(errors="replace")
    return [root for root, _ in runs]


@pytest.mark.parametrize("family", SEQ2SEQ)
def test_two_builds_in_two_processes_save_byte_identical_files(builds, family):
    first, second = (root / f"tiny-{family}" for root in builds)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), (
            f"tiny-{family}/{name} differs between two builds of the same model"
        )


@pytest.mark.parametrize("family", ["marian", "t5", "mbart"])
def test_unigram_tokenizers_cover_the_corpora_and_split_long_words(builds, family):
    tokenizer = transformers.AutoTokenizer.from_pretrained(builds[0] / f"tiny-{family}")
    for text in dict.fromkeys(CORPUS + TARGET_CORPUS):
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.unk_token_id not in ids, text
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    pieces = tokenizer.tokenize("Aufmerksamkeit")
    assert len(pieces) > 1 and pieces[0].startswith("▁")
