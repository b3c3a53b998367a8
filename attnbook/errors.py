"""The exceptions and warnings attnbook raises.

Every error a reader can cause derives from :class:`AttnbookError`, so
``except attnbook.AttnbookError`` catches all of them; each message says what
was wrong and what to do about it.
"""

from __future__ import annotations


class AttnbookError(Exception):
    """Base class of every error attnbook raises on bad input or setup."""
