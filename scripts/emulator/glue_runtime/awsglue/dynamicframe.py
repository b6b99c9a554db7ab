"""awsglue.dynamicframe, as far as the jobs use it: a DynamicFrame is read and turned into a DataFrame."""

from __future__ import annotations

from typing import Any

__all__ = ["DynamicFrame"]


class DynamicFrame:
    def __init__(self, df: Any, glue_ctx: Any = None, name: str = ""):
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    def toDF(self) -> Any:  # noqa: N802 - Glue's name
        return self._df

    def count(self) -> int:
        return self._df.count()
