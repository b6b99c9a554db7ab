"""
Entry point of a stream-SQL application on Amazon Managed Service for Apache Flink (PyFlink,
runtime FLINK-1_20).

The package holds this file, job.json (the dataset's statements, generated from its contract by
modules/streaming/flink-sql.ts) and lib/<the Kinesis SQL connector jar>. The application's runtime
properties say where to read and write:

  source  stream.arn, aws.region, source.init.position   (the dataset's Kinesis stream)
  sink    results.uri                                    (s3://<consumer bucket>/; one folder per result table)

The statements themselves are never edited here: the only thing this file adds to them is the
connector options of the place they run. The stream-SQL tests run the same functions over files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from pyflink.table import StatementSet, TableEnvironment

HERE = Path(__file__).resolve().parent
PROPERTIES = Path("/etc/flink/application_properties.json")
MARKER = "{{connector_options}}"


def load_spec(path: Path = HERE / "job.json") -> dict:
    return json.loads(path.read_text())


def literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def with_options(ddl: str, options: Mapping[str, str]) -> str:
    """A generated DDL with its connector options filled in where the generator left the marker."""
    if MARKER not in ddl:
        raise ValueError("DDL has no connector-options marker: it was not generated for a runtime")
    lines = "".join(f"{literal(k)} = {literal(v)},\n  " for k, v in sorted(options.items()))
    return ddl.replace(MARKER + "\n  ", lines).replace(MARKER, lines.rstrip())


def configure(table_env: TableEnvironment) -> None:
    """Session settings the generated statements assume (window bounds are UTC wall-clock times)."""
    table_env.get_config().set("table.local-time-zone", "UTC")


def create_tables(
    table_env: TableEnvironment,
    spec: dict,
    source_options: Mapping[str, str],
    sink_options: Callable[[dict], Mapping[str, str]],
) -> None:
    table_env.execute_sql(with_options(spec["source"], source_options))
    table_env.execute_sql(spec["acceptedView"])
    for query in spec["queries"]:
        table_env.execute_sql(with_options(query["sink"], sink_options(query)))


def statement_set(table_env: TableEnvironment, spec: dict) -> StatementSet:
    """Every query's INSERT in one job: the stream is read once."""
    statements = table_env.create_statement_set()
    for query in spec["queries"]:
        statements.add_insert_sql(query["insert"])
    return statements


def runtime_properties(path: Path = PROPERTIES) -> dict[str, dict[str, str]]:
    groups = json.loads(path.read_text())
    return {g["PropertyGroupId"]: g["PropertyMap"] for g in groups}


def main() -> None:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    properties = runtime_properties(Path(os.environ.get("STREAM_SQL_PROPERTIES", PROPERTIES)))
    source, sink = properties["source"], properties["sink"]
    root = sink["results.uri"].rstrip("/")
    table_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    configure(table_env)
    spec = load_spec()
    create_tables(
        table_env,
        spec,
        {"connector": "kinesis", **source},
        lambda query: {"connector": "filesystem", "path": f"{root}/{query['table']}/"},
    )
    statement_set(table_env, spec).execute()


if __name__ == "__main__":
    main()
