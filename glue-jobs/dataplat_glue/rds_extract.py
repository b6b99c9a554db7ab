"""RDS → raw: an incremental extract through a Glue JDBC connection, landing NDJSON in raw.

In Glue the table is read through the connection named by `--connection_name` (its credentials
come from the Secrets Manager secret the connection references), with a job bookmark on the
contract's version column: each run reads only rows whose version is past the last committed run.
Locally, `--local --input_path` reads a JSON-lines dump of the table with the contract's types,
standing in for the JDBC read; everything after the read is the same code.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from pyspark.sql import DataFrame, SparkSession

from . import runtime
from .args import Arg, JobArgs
from .contract import JobContract
from .extract import to_ndjson, write_raw
from .spark import configure, struct_of

JOB = "rds_extract"
DESCRIPTION = "RDS table (Glue JDBC connection, job bookmarks) → raw NDJSON under the dataset prefix"

ARGS = [
    Arg(
        "dataset_contract",
        "the dataset's job contract (PartitionedDataset.jobContract() as JSON)",
        '\'{"name":"events",...}\'',
    ),
    Arg("output_path", "the dataset's root in the raw zone", "s3://dataplat-dev-raw/events/"),
    Arg(
        "connection_name",
        "Glue JDBC connection (Glue only; it references the Secrets Manager secret)",
        "dataplat-dev-source-db",
        required=False,
    ),
    Arg("source_table", "schema-qualified source table", "public.events", required=False),
    Arg("connection_type", "JDBC engine of the connection", "postgresql", required=False, default="postgresql"),
    Arg("hash_partitions", "parallel JDBC reads (Glue's hashpartitions; Glue only)", "8", required=False),
    Arg(
        "input_path",
        "local runs only: JSON-lines dump of the table, standing in for the JDBC read",
        "./events.jsonl",
        required=False,
    ),
    Arg("run_id", "id in the raw file names (default: Glue's JOB_RUN_ID)", "sfn-exec-42", required=False),
    Arg(
        "staging_path",
        "scratch folder before the commit (default: _staging/<dataset>/ beside the output folder)",
        "s3://dataplat-dev-raw/_staging/events/",
        required=False,
    ),
]


def jdbc_options(
    contract: JobContract, connection_name: str, table: str, hash_partitions: Optional[str] = None
) -> dict[str, Any]:
    """Glue `connection_options` for an incremental JDBC read.

    The bookmark key is the version column, ascending: Glue remembers the highest value it read and
    the next run asks only for later ones. Glue requires bookmark keys to increase monotonically; a
    row updated in a transaction that commits after a later timestamp was read is missed, so the
    source should stamp `versionColumn` at commit time (or be re-extracted in full on a schedule).
    """
    options: dict[str, Any] = {
        "useConnectionProperties": "true",
        "connectionName": connection_name,
        "dbtable": table,
        "jobBookmarkKeys": [contract.version_column],
        "jobBookmarkKeysSortOrder": "asc",
    }
    if hash_partitions:
        options["hashfield"] = contract.primary_key[0]
        options["hashpartitions"] = str(int(hash_partitions))
    return options


def shape(rows: DataFrame, contract: JobContract) -> DataFrame:
    """Source rows → raw NDJSON: every source column kept (raw is as-is), contract columns first."""
    names = [c.name for c in contract.columns]
    cols = [c for c in names if c in rows.columns] + sorted(c for c in rows.columns if c not in names)
    return to_ndjson(rows.select(*[f"`{c}`" for c in cols]))


def read_source(spark: SparkSession, args: JobArgs, contract: JobContract, glue_context: Any) -> DataFrame:
    if glue_context is None:
        path = args.get("input_path")
        if not path:
            raise ValueError("rds_extract: a local run needs --input_path (a JSON-lines dump of the table)")
        return spark.read.schema(struct_of(contract.columns)).json(path)
    for required in ("connection_name", "source_table"):
        if not args.get(required):
            raise ValueError(f"rds_extract: --{required} is required in Glue")
    dyf = glue_context.create_dynamic_frame.from_options(
        connection_type=args["connection_type"],
        connection_options=jdbc_options(
            contract, args["connection_name"], args["source_table"], args.get("hash_partitions")
        ),
        transformation_ctx=f"{contract.name}_rds_source",  # names the bookmark state of this read
    )
    return dyf.toDF()


def run(spark: SparkSession, args: JobArgs, glue_context: Any = None) -> dict[str, Any]:
    configure(spark)
    contract = JobContract.from_json(args["dataset_contract"])
    run_id = args.run_id()
    rows = read_source(spark, args, contract, glue_context)
    landed = write_raw(spark, shape(rows, contract), contract, args["output_path"], run_id, args.get("staging_path"))
    return {
        "job": JOB,
        "dataset": contract.name,
        "runId": run_id,
        "source": args.get("source_table") or args.get("input_path"),
        "raw": landed,
    }


def main(argv: Optional[Sequence[str]] = None, spark: Optional[SparkSession] = None) -> dict[str, Any]:
    return runtime.main(run, ARGS, DESCRIPTION, argv, spark)
