"""``python -m attnbook``: the same as the ``attnbook`` command."""

from attnbook.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
