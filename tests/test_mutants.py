"""The mutation check's list (tests/mutants.py) still describes the code it mutates.

The check itself is slow (one pytest run per mutant: ``nox -s mutants``); this
test is instant and runs with the others, so a change to a mutated line fails
here, next to the change, and the list is updated rather than left to rot.
"""

from __future__ import annotations

from mutants import MUTANTS, ROOT, missing_snippets


def test_every_mutated_snippet_is_still_in_the_code_once():
    assert missing_snippets(list(MUTANTS)) == [], (
        "a line tests/mutants.py mutates has changed: update that mutant to the new code"
    )


def test_every_mutant_names_existing_tests():
    for m in MUTANTS:
        for target in m.tests:
            assert (ROOT / target.split("::")[0]).is_file(), (m.name, target)
        assert all(old != new for _, old, new in m.edits), m.name
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
