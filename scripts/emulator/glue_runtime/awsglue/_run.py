"""What the emulator hands one job run (internal): its bookmark state and where the committed state goes.

Environment, set by the emulator for the run's process:
  DATAPLAT_GLUE_RUN  path of a JSON file {"jobName", "runId", "bookmarkOption", "bookmark": {ctx: state},
                     "bookmarkOut": path, "endpoint", "caBundle", "region"}
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from botocore.client import BaseClient

_RUN: Optional[dict] = None
#: States read in this run, by transformation_ctx; Job.commit writes them for the emulator.
staged: dict[str, Any] = {}


def run() -> dict:
    global _RUN
    if _RUN is None:
        path = os.environ.get("DATAPLAT_GLUE_RUN")
        if not path:
            raise RuntimeError(
                "awsglue (local runtime): this process was not started by the emulator's Glue job runner "
                "(DATAPLAT_GLUE_RUN is not set); run the job with `glue start-job-run` against the emulator"
            )
        with open(path, encoding="utf-8") as fh:
            _RUN = json.load(fh)
    return _RUN


def bookmarks_enabled() -> bool:
    return run().get("bookmarkOption") in ("job-bookmark-enable", "job-bookmark-pause")


def bookmark_state(ctx: str) -> Optional[dict]:
    """The committed state of this read, when bookmarks are on (enable or pause)."""
    if not ctx or not bookmarks_enabled():
        return None
    return (run().get("bookmark") or {}).get(ctx)


def client(service: str) -> BaseClient:
    """A boto3 client of the emulator with the run's credentials (the job role's, from the environment)."""
    import boto3

    r = run()
    return boto3.client(service, endpoint_url=r["endpoint"], verify=r["caBundle"], region_name=r["region"])
