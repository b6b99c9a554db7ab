"""
Athena: queries run with DuckDB over the Glue catalog's tables, results to the workgroup's output.

moto 5.2.1 stores query executions and runs nothing: every query SUCCEEDS with no rows (or canned
ones), scanning 0 bytes; it also lacks UpdateWorkGroup. Here:
  * StartQueryExecution takes the result configuration from the workgroup when the workgroup
    enforces it (EnforceWorkGroupConfiguration), else the request's over the workgroup's, and runs
    the query in the background: QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED.
  * Each table the query names (`"db"."table"`, db.table, or a bare name in the execution context's
    database) is read from the Glue catalog. With `projection.enabled` its partitions come from
    the projection, not the catalog: the objects under the table location are matched against
    `storage.location.template` (default: <location><key>=<value>/...), and only values the
    projection allows are seen (date within its range and format, enum values, integer ranges with
    digits; `injected` keys take any value). Without projection the catalog's partitions are read.
  * Partitions are pruned by simple predicates on partition keys (`key = 'v'`, IN, BETWEEN,
    comparisons with literals) when the query has no OR/NOT; every other predicate is still
    applied by DuckDB to the rows. The remaining objects are read through the emulator's S3 API (as
    the calling account), and their total size is the query's DataScannedInBytes (whole objects:
    Athena reads only the Parquet columns it needs, so it reports less for wide tables).
  * Storage: Parquet SerDe → read_parquet; OpenX/Hive JSON SerDe → newline-delimited JSON;
    LazySimpleSerDe/OpenCSV → CSV (field.delim, skip.header.line.count). Columns take the Glue
    table's types; a file missing a column gives NULLs.
  * The workgroup's BytesScannedCutoffPerQuery is enforced before the data is read: the query fails
    as Athena fails it ("Bytes scanned limit was exceeded").
  * A query DuckDB cannot run fails with Athena's error shape: Status.StateChangeReason and
    AthenaError {ErrorCategory 2 (user), ErrorType 1000, Retryable false, ErrorMessage} naming
    DuckDB's error, e.g. a Trino function DuckDB lacks. Statements other than SELECT/WITH/VALUES/
    SHOW/DESCRIBE — DDL beyond moto's CREATE/DROP DATABASE — fail the same way, saying so.
  * Results: CSV (header, every value quoted, NULL empty) written to <OutputLocation><id>.csv with
    the workgroup's EncryptionConfiguration (SSE_S3, SSE_KMS; CSE_KMS fails the query), and
    GetQueryResults pages the header row and rows (MaxResults, NextToken) with column types.
  * UpdateWorkGroup applies ConfigurationUpdates (result configuration, encryption, cutoff,
    enforcement, engine version, metrics), Description and State.
Written for moto 5.2.1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import LOG, client, require_moto

if TYPE_CHECKING:
    import duckdb
    from botocore.client import BaseClient
    from moto.athena.models import AthenaBackend, Execution
    from moto.athena.responses import AthenaResponse
    from moto.glue.models import FakeTable, GlueBackend

_executions: dict[str, dict] = {}  # query execution id → the emulator's own record of it
DEFAULT_DATABASE = "default"


def register() -> None:
    require_moto("athena", "5.2.1")
    from moto.athena.models import AthenaBackend
    from moto.athena.responses import AthenaResponse

    if hasattr(AthenaResponse, "update_work_group"):
        raise SystemExit("emulator: this moto has UpdateWorkGroup; revisit services/athena.py")
    original_start, original_get = AthenaResponse.start_query_execution, AthenaResponse.get_query_execution
    original_results, original_advance = AthenaResponse.get_query_results, AthenaBackend.get_query_execution
    original_stop = AthenaBackend.stop_query_execution

    def start_query_execution(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
        workgroup_name = self._get_param("WorkGroup") or "primary"
        backend = self.athena_backend
        if workgroup_name not in backend.work_groups and workgroup_name != "primary":
            return self.error("WorkGroup does not exist", 400)
        workgroup = backend.work_groups.get(workgroup_name)
        wg_config = (workgroup.configuration if workgroup else {}) or {}
        wanted = self._get_param("ResultConfiguration") or {}
        base = wg_config.get("ResultConfiguration") or {}
        effective = (
            dict(base) if wg_config.get("EnforceWorkGroupConfiguration", True) and workgroup else {**base, **wanted}
        )
        if not effective.get("OutputLocation"):
            return self.error(
                "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.",
                400,
            )
        answer = original_start(self) if workgroup_name in backend.work_groups else None
        if answer is None:
            from moto.athena.models import Execution

            execution = Execution(
                self._get_param("QueryString"), self._get_param("QueryExecutionContext"), dict(effective), None, None
            )
            backend.executions[execution.id] = execution
            execution_id = execution.id
        else:
            if isinstance(answer, tuple):
                return answer
            execution_id = json.loads(answer)["QueryExecutionId"]
            execution = backend.executions[execution_id]
            execution.config = dict(effective)
            location = effective["OutputLocation"]
            execution.config["OutputLocation"] = (
                location if location.endswith("/") else location + "/"
            ) + f"{execution_id}.csv"
        if answer is None:
            location = effective["OutputLocation"]
            execution.config["OutputLocation"] = (
                location if location.endswith("/") else location + "/"
            ) + f"{execution_id}.csv"
        record = {
            "state": "QUEUED",
            "reason": None,
            "error": None,
            "scanned": 0,
            "columns": [],
            "rows": [],
            "submitted": time.time(),
            "completed": None,
            "engine_ms": 0,
            "workgroup": workgroup_name,
            "cutoff": wg_config.get("BytesScannedCutoffPerQuery"),
            "engine": (wg_config.get("EngineVersion") or {}).get("SelectedEngineVersion", "AUTO"),
        }
        _executions[execution_id] = record
        execution.status = "QUEUED"
        threading.Thread(
            target=_run, args=(backend, execution, record), name=f"athena-{execution_id[:8]}", daemon=True
        ).start()
        return json.dumps({"QueryExecutionId": execution_id})

    def get_query_execution_backend(self: AthenaBackend, exec_id: str) -> Execution:
        if exec_id in _executions:
            return self.executions[exec_id]  # our executions move with their work, not with reads
        return original_advance(self, exec_id)

    def get_query_execution(self: AthenaResponse) -> str:
        exec_id = self._get_param("QueryExecutionId")
        record = _executions.get(exec_id)
        if record is None:
            return original_get(self)
        execution = self.athena_backend.executions[exec_id]
        status = {"State": record["state"], "SubmissionDateTime": record["submitted"]}
        if record["completed"]:
            status["CompletionDateTime"] = record["completed"]
        if record["reason"]:
            status["StateChangeReason"] = record["reason"]
        if record["error"]:
            status["AthenaError"] = record["error"]
        total = int(((record["completed"] or time.time()) - record["submitted"]) * 1000)
        query = execution.query.lstrip().upper()
        return json.dumps(
            {
                "QueryExecution": {
                    "QueryExecutionId": exec_id,
                    "Query": execution.query,
                    "StatementType": "DDL"
                    if query.startswith(("ALTER", "CREATE", "DESCRIBE", "DROP", "MSCK", "SHOW"))
                    else "DML",
                    "ResultConfiguration": execution.config,
                    "QueryExecutionContext": execution.context or {},
                    "Status": status,
                    "Statistics": {
                        "EngineExecutionTimeInMillis": record["engine_ms"],
                        "DataScannedInBytes": record["scanned"],
                        "TotalExecutionTimeInMillis": total,
                    },
                    "WorkGroup": record["workgroup"],
                    "EngineVersion": {
                        "SelectedEngineVersion": record["engine"],
                        "EffectiveEngineVersion": "Athena engine version 3",
                    },
                }
            }
        )

    def get_query_results(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
        exec_id = self._get_param("QueryExecutionId")
        record = _executions.get(exec_id)
        if record is None:
            return original_results(self)
        if record["state"] in ("QUEUED", "RUNNING"):
            return self.error(f"Query has not yet finished. Current state: {record['state']}", 400)
        if record["state"] != "SUCCEEDED":
            return self.error(f"Query did not finish successfully. Final query state: {record['state']}", 400)
        header = {"Data": [{"VarCharValue": c["Name"]} for c in record["columns"]]}
        rows = ([header] if record["columns"] else []) + [
            {"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in record["rows"]
        ]
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxResults") or 1000)
        page = rows[start : start + size]
        result = {"ResultSet": {"Rows": page, "ResultSetMetadata": {"ColumnInfo": record["columns"]}}, "UpdateCount": 0}
        if start + size < len(rows):
            result["NextToken"] = str(start + size)
        return json.dumps(result)

    def stop_query_execution(self: AthenaBackend, exec_id: str) -> None:
        record = _executions.get(exec_id)
        if record is not None and record["state"] in ("QUEUED", "RUNNING"):
            record.update(state="CANCELLED", completed=time.time(), reason="Query was cancelled by the user")
        return original_stop(self, exec_id)

    AthenaResponse.start_query_execution = start_query_execution
    AthenaResponse.get_query_execution = get_query_execution
    AthenaResponse.get_query_results = get_query_results
    AthenaResponse.update_work_group = _update_work_group
    AthenaBackend.get_query_execution = get_query_execution_backend
    AthenaBackend.stop_query_execution = stop_query_execution


# --------------------------------------------------------------------------------------------
# UpdateWorkGroup
# --------------------------------------------------------------------------------------------
# Installed as AthenaResponse.update_work_group.
def _update_work_group(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
    name = self._get_param("WorkGroup")
    workgroup = self.athena_backend.work_groups.get(name)
    if workgroup is None:
        return self.error(f"WorkGroup {name} is not found.", 400)
    if self._get_param("Description") is not None:
        workgroup.description = self._get_param("Description")
    if self._get_param("State"):
        workgroup.state = self._get_param("State")
    updates = self._get_param("ConfigurationUpdates") or {}
    config = workgroup.configuration
    for key in (
        "EnforceWorkGroupConfiguration",
        "PublishCloudWatchMetricsEnabled",
        "BytesScannedCutoffPerQuery",
        "RequesterPaysEnabled",
        "EnableMinimumEncryptionConfiguration",
        "AdditionalConfiguration",
        "ExecutionRole",
        "CustomerContentEncryptionConfiguration",
    ):
        if key in updates:
            config[key] = updates[key]
    if updates.get("RemoveBytesScannedCutoffPerQuery"):
        config.pop("BytesScannedCutoffPerQuery", None)
    if "EngineVersion" in updates:
        config["EngineVersion"] = {
            "SelectedEngineVersion": updates["EngineVersion"].get("SelectedEngineVersion", "AUTO"),
            "EffectiveEngineVersion": "Athena engine version 3",
        }
    result_updates = updates.get("ResultConfigurationUpdates") or {}
    result = config.setdefault("ResultConfiguration", {})
    for key in ("OutputLocation", "ExpectedBucketOwner", "EncryptionConfiguration", "AclConfiguration"):
        if key in result_updates:
            result[key] = result_updates[key]
        if result_updates.get(f"Remove{key}"):
            result.pop(key, None)
    return "{}"


# --------------------------------------------------------------------------------------------
# Running a query
# --------------------------------------------------------------------------------------------
class QueryError(Exception):
    def __init__(self, message: str, error_type: int = 1000):
        super().__init__(message)
        self.message, self.error_type = message, error_type


def _run(backend: AthenaBackend, execution: Execution, record: dict) -> None:
    started = time.monotonic()
    record["state"] = "RUNNING"
    execution.status = "RUNNING"
    try:
        _execute(backend, execution, record)
        final = "SUCCEEDED"
    except QueryError as error:
        final = "FAILED"
        record["reason"] = error.message
        record["error"] = {
            "ErrorCategory": 2,
            "ErrorType": error.error_type,
            "Retryable": False,
            "ErrorMessage": error.message,
        }
    except Exception as error:  # noqa: BLE001 - an emulator fault fails the query as a system error
        LOG.exception("athena %s: query failed in the emulator", execution.id)
        final = "FAILED"
        record["reason"] = f"INTERNAL_ERROR: {error}"
        record["error"] = {"ErrorCategory": 1, "ErrorType": 100, "Retryable": True, "ErrorMessage": str(error)}
    record["engine_ms"] = int((time.monotonic() - started) * 1000)
    if record["state"] == "CANCELLED":
        return
    record.update(state=final, completed=time.time())
    execution.status = final
    LOG.info(
        "athena %s: %s, %d bytes scanned%s",
        execution.id,
        final,
        record["scanned"],
        f" ({record['reason']})" if record["reason"] else "",
    )


def _strip_strings(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def _execute(backend: AthenaBackend, execution: Execution, record: dict) -> None:
    import duckdb

    sql = execution.query.strip().rstrip(";")
    head = sql.lstrip("( \n\t").split(None, 1)[0].upper() if sql else ""
    if head == "":
        raise QueryError("line 1:1: mismatched input '<EOF>'. Expecting: a statement")
    if head in ("CREATE", "DROP") and re.match(r"^\s*(CREATE|DROP)\s+(DATABASE|SCHEMA)\b", sql, re.I):
        return  # moto keeps these (its _process_ddl); nothing to return
    if head not in ("SELECT", "WITH", "VALUES", "SHOW", "DESCRIBE"):
        raise QueryError(
            f"NOT_SUPPORTED: the emulator runs queries, not {head} statements (DuckDB stands in for Athena's engine)"
        )
    account, region = backend.account_id, backend.region_name
    context = execution.context or {}
    default_db = (context.get("Database") or DEFAULT_DATABASE).lower()
    glue = _glue_backend(account, region)
    try:
        names = duckdb.get_table_names(sql, qualified=True)
    except duckdb.ParserException as error:
        raise QueryError(f"SYNTAX_ERROR: {_first_line(error)}") from None
    except duckdb.Error as error:
        raise QueryError(_unsupported(error)) from None
    tables = {}
    for name in names:
        parts = _split_name(re.split(r"\s+AS\s+", name, flags=re.I)[0])
        db, table = (parts[-2].lower(), parts[-1].lower()) if len(parts) >= 2 else (default_db, parts[-1].lower())
        found = _glue_table(glue, db, table)
        if found is None:
            if len(parts) >= 2:
                raise QueryError(f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{db}.{table}' does not exist")
            continue  # a bare name may be a CTE; DuckDB says so if it is not
        tables[(db, table)] = found
    predicates = _partition_predicates(sql)
    s3 = client("s3", account, region)
    cutoff = record.get("cutoff")
    with tempfile.TemporaryDirectory(prefix="athena-") as scratch:
        plans = []
        for (db, table), glue_table in tables.items():
            files = _files(s3, glue, db, glue_table, predicates)
            record["scanned"] += sum(size for _, _, size in files)
            plans.append((db, table, glue_table, files))
        if cutoff and record["scanned"] > int(cutoff):
            raise QueryError(
                f"Query cancelled! : Bytes scanned limit was exceeded (the workgroup's BytesScannedCutoffPerQuery is {int(cutoff)} bytes; this query reads {record['scanned']})",
                1000,
            )
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        for db, table, glue_table, files in plans:
            _register(con, s3, Path(scratch), db, table, glue_table, files)
        if any(db == default_db for db, _ in tables) or tables:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{default_db}"')
            con.execute(f"SET schema = '{default_db}'")
        try:
            cursor = con.execute(sql)
            rows = cursor.fetchall()
            description = cursor.description or []
        except duckdb.CatalogException as error:
            raise QueryError(
                f"TABLE_NOT_FOUND: {_first_line(error)}" if "Table with name" in str(error) else _unsupported(error)
            ) from None
        except duckdb.ParserException as error:
            raise QueryError(f"SYNTAX_ERROR: {_first_line(error)}") from None
        except duckdb.Error as error:
            raise QueryError(_unsupported(error)) from None
    record["columns"] = [
        {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": d[0],
            "Label": d[0],
            "Type": _athena_type(str(d[1])),
            "Precision": 0,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": _athena_type(str(d[1])) == "varchar",
        }
        for d in description
    ]
    record["rows"] = [[_text(v) for v in row] for row in rows]
    _write_results(s3, execution, record)


def _unsupported(error: Exception) -> str:
    return f"NOT_SUPPORTED: DuckDB, which runs Athena queries in the emulator, could not run this query: {_first_line(error)}"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _split_name(name: str) -> list[str]:
    return [p.strip('"') for p in re.findall(r'"(?:[^"]|"")*"|[^.]+', name.strip())]


def _glue_backend(account: str, region: str) -> GlueBackend:
    from moto.glue.models import glue_backends

    return glue_backends[account][region]


def _glue_table(glue: GlueBackend, db: str, table: str) -> FakeTable | None:
    database = glue.databases.get(db)
    if database is None:
        return None
    return database.tables.get(table)


def _partition_predicates(sql: str) -> dict[str, list]:
    """Simple predicates on any column, when pruning by them is safe (no OR/NOT); {} otherwise."""
    bare = _strip_strings(sql)
    if re.search(r"\b(OR|NOT)\b", bare, re.I):
        return {}
    ident = r'(?:\w+\.)?"?(\w+)"?'
    lit = r"'((?:[^']|'')*)'"
    out: dict[str, list] = {}
    for m in re.finditer(rf"{ident}\s*(=|>=|<=|<>|!=|>|<)\s*{lit}", sql):
        out.setdefault(m.group(1).lower(), []).append((m.group(2), m.group(3).replace("''", "'")))
    for m in re.finditer(rf"{ident}\s+IN\s*\(((?:\s*{lit}\s*,?)+)\)", sql, re.I):
        values = [v.replace("''", "'") for v in re.findall(lit, m.group(2))]
        out.setdefault(m.group(1).lower(), []).append(("IN", values))
    for m in re.finditer(rf"{ident}\s+BETWEEN\s+{lit}\s+AND\s+{lit}", sql, re.I):
        out.setdefault(m.group(1).lower(), []).append(("BETWEEN", (m.group(2), m.group(3))))
    return out


def _keep(value: str, tests: list) -> bool:
    for op, operand in tests:
        if op == "=" and value != operand or op in ("<>", "!=") and value == operand:
            return False
        if op == "IN" and value not in operand or op == "BETWEEN" and not (operand[0] <= value <= operand[1]):
            return False
        if (
            op in (">", ">=", "<", "<=")
            and not {">": value > operand, ">=": value >= operand, "<": value < operand, "<=": value <= operand}[op]
        ):
            return False
    return True


def _java_to_strptime(fmt: str) -> str:
    for java, py in (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")):
        fmt = fmt.replace(java, py)
    return fmt


def _projection_allows(params: dict, key: str, value: str) -> bool:
    kind = params.get(f"projection.{key}.type")
    if kind == "enum":
        return value in [v.strip() for v in params.get(f"projection.{key}.values", "").split(",")]
    if kind == "integer":
        low, high = (int(x) for x in params.get(f"projection.{key}.range", "0,0").split(","))
        digits = params.get(f"projection.{key}.digits")
        return value.isdigit() and low <= int(value) <= high and (not digits or len(value) == int(digits))
    if kind == "date":
        fmt = _java_to_strptime(params.get(f"projection.{key}.format", "yyyy-MM-dd"))
        try:
            when = dt.datetime.strptime(value, fmt)
        except ValueError:
            return False
        if when.strftime(fmt) != value:
            return False
        bounds = []
        for bound in params.get(f"projection.{key}.range", "").split(","):
            bound = bound.strip()
            if bound.upper().startswith("NOW"):
                bounds.append(dt.datetime.utcnow())
            else:
                try:
                    bounds.append(dt.datetime.strptime(bound, fmt))
                except ValueError:
                    return True  # a relative range the emulator does not parse: do not hide data
        return len(bounds) != 2 or bounds[0] <= when <= bounds[1]
    return kind == "injected" or kind is None


def _files(
    s3: BaseClient, glue: GlueBackend, db: str, table: FakeTable, predicates: dict
) -> list[tuple[str, dict, int]]:
    """(s3 uri, partition values, size) of every object the query reads from `table`."""
    meta = table.as_dict()
    params = meta.get("Parameters") or {}
    location = (meta.get("StorageDescriptor") or {}).get("Location", "")
    keys = [k["Name"].lower() for k in meta.get("PartitionKeys") or []]
    roots: list[tuple[str, dict]] = []
    if keys and params.get("projection.enabled", "").lower() == "true":
        template = params.get("storage.location.template") or (
            location.rstrip("/") + "/" + "".join(f"{k}=${{{k}}}/" for k in keys)
        )
        pattern = re.escape(template)
        for k in keys:
            pattern = pattern.replace(re.escape(f"${{{k}}}"), f"(?P<{k}>[^/]+)")
        prefix = template.split("${", 1)[0]
        matcher = re.compile(pattern)
        out = []
        for uri, size in _list(s3, prefix):
            m = matcher.match(uri)
            if not m:
                continue
            values = {k: m.group(k) for k in keys}
            if all(_projection_allows(params, k, v) and _keep(v, predicates.get(k, [])) for k, v in values.items()):
                out.append((uri, values, size))
        return out
    if keys:
        for partition in table.partitions.values():
            as_dict = partition.as_dict()
            values = dict(zip(keys, as_dict["Values"]))
            if all(_keep(v, predicates.get(k, [])) for k, v in values.items()):
                roots.append((as_dict["StorageDescriptor"]["Location"], values))
    else:
        roots.append((location, {}))
    out = []
    for root, values in roots:
        out.extend((uri, values, size) for uri, size in _list(s3, root if root.endswith("/") else root + "/"))
    return out


def _list(s3: BaseClient, uri: str) -> list[tuple[str, int]]:
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            # Athena skips files whose names start with _ or . (markers, temporary files).
            if item["Key"].endswith("/") or name.startswith(("_", ".")):
                continue
            out.append((f"s3://{bucket}/{item['Key']}", item["Size"]))
    return out


_TYPES = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}


def _duck_type(glue_type: str) -> str:
    t = glue_type.strip().lower()
    base = re.match(r"\w+", t).group(0) if re.match(r"\w+", t) else t
    if base == "decimal":
        return t.upper()
    if base in ("varchar", "char"):
        return "VARCHAR"
    if base in _TYPES:
        return _TYPES[base]
    return "VARCHAR" if base not in ("array", "struct", "map") else "JSON"


def _register(
    con: duckdb.DuckDBPyConnection,
    s3: BaseClient,
    scratch: Path,
    db: str,
    table: str,
    glue_table: FakeTable,
    files: list,
) -> None:
    meta = glue_table.as_dict()
    sd = meta.get("StorageDescriptor") or {}
    columns = [(c["Name"].lower(), c["Type"]) for c in sd.get("Columns") or []]
    keys = [(k["Name"].lower(), k.get("Type", "string")) for k in meta.get("PartitionKeys") or []]
    serde = ((sd.get("SerdeInfo") or {}).get("SerializationLibrary") or "").lower()
    serde_params = (sd.get("SerdeInfo") or {}).get("Parameters") or {}
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{db}"')
    selects = []
    for i, (uri, values, _size) in enumerate(files):
        bucket, _, key = uri[len("s3://") :].partition("/")
        local = scratch / f"{db}.{table}.{i}{''.join(Path(key).suffixes[-2:])}"
        local.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        path = str(local).replace("'", "''")
        if "parquet" in serde or key.endswith(".parquet"):
            source = f"read_parquet('{path}', union_by_name = true)"
        elif "json" in serde:
            spec = ", ".join(f"'{n}': '{_duck_type(t) if _duck_type(t) != 'JSON' else 'JSON'}'" for n, t in columns)
            source = (
                f"read_json('{path}', format = 'newline_delimited', columns = {{{spec}}}, ignore_errors = true)"
                if columns
                else f"read_json_auto('{path}', format = 'newline_delimited')"
            )
        else:
            delim = serde_params.get("field.delim") or serde_params.get("separatorChar") or ","
            skip = int(
                (meta.get("Parameters") or {}).get("skip.header.line.count")
                or serde_params.get("skip.header.line.count")
                or 0
            )
            names = ", ".join(f"'{n}': 'VARCHAR'" for n, _ in columns)
            source = f"read_csv('{path}', delim = '{delim}', header = false, skip = {skip}, columns = {{{names}}})"
        described = {r[0].lower() for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        parts = [
            f'TRY_CAST("{n}" AS {_duck_type(t)}) AS "{n}"'
            if n in described
            else f'CAST(NULL AS {_duck_type(t)}) AS "{n}"'
            for n, t in columns
        ]
        parts += [f"TRY_CAST('{values.get(n, '')}' AS {_duck_type(t)}) AS \"{n}\"" for n, t in keys]
        selects.append(f"SELECT {', '.join(parts)} FROM {source}")
    if not selects:
        parts = [f'CAST(NULL AS {_duck_type(t)}) AS "{n}"' for n, t in columns + keys]
        selects.append(f"SELECT {', '.join(parts) or '1 AS dummy'} WHERE false")
    con.execute(f'CREATE VIEW "{db}"."{table}" AS ' + " UNION ALL BY NAME ".join(selects))


def _athena_type(duck: str) -> str:
    d = duck.upper()
    for prefix, name in (
        ("VARCHAR", "varchar"),
        ("BIGINT", "bigint"),
        ("INTEGER", "integer"),
        ("SMALLINT", "smallint"),
        ("TINYINT", "tinyint"),
        ("DOUBLE", "double"),
        ("FLOAT", "real"),
        ("BOOLEAN", "boolean"),
        ("DATE", "date"),
        ("TIMESTAMP", "timestamp"),
        ("DECIMAL", "decimal"),
        ("HUGEINT", "decimal"),
        ("BLOB", "varbinary"),
        ("STRUCT", "row"),
        ("MAP", "map"),
        ("JSON", "json"),
    ):
        if d.startswith(prefix):
            return name
    return "array" if d.endswith("[]") else "varchar"


def _text(value: Any) -> str | None:  # a DuckDB result value, of any SQL type
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def _write_results(s3: BaseClient, execution: Execution, record: dict) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    config = execution.config or {}
    bucket, _, key = config["OutputLocation"][len("s3://") :].partition("/")
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    if record["columns"]:
        writer.writerow([c["Name"] for c in record["columns"]])
    for row in record["rows"]:
        buffer.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row) + "\n")
    encryption = config.get("EncryptionConfiguration") or {}
    option = encryption.get("EncryptionOption")
    extra = {}
    if option == "SSE_S3":
        extra = {"ServerSideEncryption": "AES256"}
    elif option == "SSE_KMS":
        extra = {
            "ServerSideEncryption": "aws:kms",
            **({"SSEKMSKeyId": encryption["KmsKey"]} if encryption.get("KmsKey") else {}),
        }
    elif option:
        raise QueryError(f"the emulator writes query results with SSE_S3 or SSE_KMS, not {option}")
    owner = config.get("ExpectedBucketOwner")
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=buffer.getvalue().encode(),
            ContentType="text/csv",
            **extra,
            **({"ExpectedBucketOwner": owner} if owner else {}),
        )
    except (BotoCoreError, ClientError) as error:  # Athena fails a query whose results it cannot write
        raise QueryError(f"Unable to write query results to {config['OutputLocation']}: {error}", 1000) from None
