"""A stand-in for the `awsglue` library (only present inside Glue), recording what a job asks of it.

It lets the Glue path of the entry points run locally: argument resolution through
`getResolvedOptions`, `Job.init`/`commit` around the work (bookmarks), and the connector calls
with their connection options. The stand-in returns a given DataFrame where Glue would read the
source; everything else is the real job.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class GlueRecorder:
    def __init__(self, spark: Any, source_rows: Any = None):
        self.spark = spark
        self.source_rows = source_rows
        self.calls: list[tuple[str, Any]] = []

    def install(self, monkeypatch: Any) -> None:
        recorder = self

        def get_resolved_options(args: list[str], options: list[str]) -> dict[str, str]:
            pairs, i = {}, 1
            while i < len(args):
                if args[i].startswith("--") and i + 1 < len(args):
                    pairs[args[i][2:]] = args[i + 1]
                    i += 2
                else:
                    i += 1
            missing = [o for o in options if o not in pairs]
            if missing:  # what Glue's argparse-based resolver does
                raise SystemExit(f"the following arguments are required: {', '.join('--' + m for m in missing)}")
            recorder.calls.append(("getResolvedOptions", list(options)))
            return {o: pairs[o] for o in options}

        class DynamicFrame:
            def __init__(self, df: Any):
                self._df = df

            def toDF(self) -> Any:  # noqa: N802 - Glue's name
                return self._df

        class Reader:
            def from_options(
                self, connection_type: str, connection_options: dict, transformation_ctx: str = "", **_: Any
            ) -> DynamicFrame:
                recorder.calls.append(
                    (
                        "from_options",
                        {
                            "connection_type": connection_type,
                            "connection_options": connection_options,
                            "transformation_ctx": transformation_ctx,
                        },
                    )
                )
                return DynamicFrame(recorder.source_rows)

        class GlueContext:
            def __init__(self, sc: Any):
                self.spark_session = recorder.spark
                self.create_dynamic_frame = Reader()

        class Job:
            def __init__(self, glue_context: Any):
                pass

            def init(self, name: str, args: dict) -> None:
                recorder.calls.append(("Job.init", name))

            def commit(self) -> None:
                recorder.calls.append(("Job.commit", None))

        modules = {
            "awsglue": types.ModuleType("awsglue"),
            "awsglue.utils": types.ModuleType("awsglue.utils"),
            "awsglue.context": types.ModuleType("awsglue.context"),
            "awsglue.job": types.ModuleType("awsglue.job"),
        }
        modules["awsglue.utils"].getResolvedOptions = get_resolved_options
        modules["awsglue.context"].GlueContext = GlueContext
        modules["awsglue.job"].Job = Job
        for name, module in modules.items():
            monkeypatch.setitem(sys.modules, name, module)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def options(self) -> dict:
        return next(value for name, value in self.calls if name == "from_options")
