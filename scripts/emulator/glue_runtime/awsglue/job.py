"""awsglue.job, as far as the jobs use it: Job.init / Job.commit (commit persists the bookmarks)."""

from __future__ import annotations

import json
import os
from typing import Any

from . import _run

__all__ = ["Job"]


class Job:
    def __init__(self, glue_context: Any):
        self._glue_context = glue_context
        self._name = None

    def init(self, job_name: str, args: Any = None) -> None:
        run = _run.run()
        if job_name != run["jobName"]:
            raise ValueError(f"Job.init: JOB_NAME {job_name!r} is not the job this run belongs to ({run['jobName']!r})")
        self._name = job_name

    def commit(self) -> None:
        """Hands the states this run read to the emulator, which stores them when the run succeeds and
        bookmarks are enabled (pause keeps the old state, disable keeps none), as Glue does."""
        if self._name is None:
            raise RuntimeError("Job.commit called before Job.init")
        run = _run.run()
        out = run["bookmarkOut"]
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"committed": True, "states": _run.staged}, fh)
        os.replace(tmp, out)
