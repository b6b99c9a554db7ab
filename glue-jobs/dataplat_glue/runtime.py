"""Running a job function in Glue or locally: the only place that touches awsglue's job lifecycle."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Optional, Sequence

from pyspark.sql import SparkSession

from .args import Arg, JobArgs, resolve

JobFn = Callable[..., dict]


def run_in_glue(job_fn: JobFn, args: JobArgs) -> dict:
    """GlueContext + Job.init/commit around `job_fn` (commit persists job bookmarks)."""
    from awsglue.context import GlueContext  # Glue-only modules, imported on this path only
    from awsglue.job import Job
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], {k: v for k, v in args.values.items() if v is not None})
    result = job_fn(glue_context.spark_session, args, glue_context=glue_context)
    job.commit()
    return result


def main(
    job_fn: JobFn,
    spec: Sequence[Arg],
    description: str,
    argv: Optional[Sequence[str]] = None,
    spark: Optional[SparkSession] = None,
) -> dict[str, Any]:
    """Entry point of every job: Glue by default; `--local` (or a given session) runs plain PySpark."""
    args = resolve(sys.argv if argv is None else argv, spec, description)
    if args.local or spark is not None:
        if spark is None:
            from .spark import local_session

            spark = local_session()
        result = job_fn(spark, args)
    else:
        result = run_in_glue(job_fn, args)
    # One short line the run's log always carries (the full summary is in the summary file).
    print(
        json.dumps({k: result.get(k) for k in ("job", "dataset", "runId")} | {"counts": _counts(result)}, default=str)
    )
    return result


def _counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v["records"] if isinstance(v, dict) and "records" in v else v.get("rows") if isinstance(v, dict) else None
        for k, v in summary.items()
        if isinstance(v, dict) and ("records" in v or "rows" in v)
    }
