"""Maps as other libraries take them: a pandas table (BertViz: :mod:`attnbook.view.bertviz`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from attnbook.maps.types import AttentionMaps

__all__ = ["to_dataframe"]


def to_dataframe(maps: AttentionMaps, layer: int, head: int) -> pd.DataFrame:
    """One head ``[Q, K]`` as a table: queries as rows (index), keys as columns."""
    weights = maps.head(layer, head).detach().cpu().numpy()
    frame = pd.DataFrame(weights, index=list(maps.query.tokens), columns=list(maps.key.tokens))
    frame.index.name = "query"
    frame.columns.name = "key"
    return frame
