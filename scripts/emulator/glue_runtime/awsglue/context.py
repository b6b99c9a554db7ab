"""awsglue.context, as far as the jobs use it: GlueContext.spark_session and create_dynamic_frame.from_options
for the JDBC connectors (through a Glue connection, with job bookmarks) and the DynamoDB export connector."""

from __future__ import annotations

import gzip
import json
import os
import time
from decimal import Decimal
from typing import Any, Optional

from . import _run
from .dynamicframe import DynamicFrame

__all__ = ["GlueContext"]

#: JDBC driver class per connection type (Glue's names).
JDBC_DRIVERS = {"postgresql": "org.postgresql.Driver", "mysql": "com.mysql.cj.jdbc.Driver"}
#: Figures of the export connector's reads (it reads with boto3, not through the s3:// file system).
EXPORT_READS = {"objects": 0, "bytes": 0}


class GlueContext:
    def __init__(self, spark_context: Any):
        from pyspark.sql import SparkSession

        self._sc = spark_context
        self.spark_session = (
            SparkSession(spark_context) if SparkSession.getActiveSession() is None else SparkSession.getActiveSession()
        )
        self.create_dynamic_frame = _DynamicFrameReader(self)


class _DynamicFrameReader:
    def __init__(self, glue_context: GlueContext):
        self._ctx = glue_context

    def from_options(
        self,
        connection_type: str,
        connection_options: Optional[dict] = None,
        format: Optional[str] = None,  # Glue's parameter name
        format_options: Optional[dict] = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        options = dict(connection_options or {})
        spark = self._ctx.spark_session
        if connection_type in JDBC_DRIVERS:
            df = _jdbc_read(spark, connection_type, options, transformation_ctx)
        elif connection_type == "dynamodb":
            df = _dynamodb_export_read(spark, options)
        else:
            raise NotImplementedError(
                f"awsglue (local runtime): connection_type {connection_type!r} is not emulated "
                f"(implemented: {', '.join(sorted([*JDBC_DRIVERS, 'dynamodb']))})"
            )
        return DynamicFrame(df, self._ctx, transformation_ctx)


# ---------------------------------------------------------------------------------------------------------
# JDBC
# ---------------------------------------------------------------------------------------------------------
def _connection(name: str) -> tuple[str, str, str, dict]:
    """URL, user, password and extra JDBC properties of a Glue JDBC connection (its secret when it names one)."""
    connection = _run.client("glue").get_connection(Name=name)["Connection"]
    props = connection.get("ConnectionProperties") or {}
    url = props.get("JDBC_CONNECTION_URL")
    if not url:
        raise ValueError(f"Glue connection {name!r} has no JDBC_CONNECTION_URL")
    if props.get("SECRET_ID"):
        secret = json.loads(_run.client("secretsmanager").get_secret_value(SecretId=props["SECRET_ID"])["SecretString"])
        user, password = secret.get("username"), secret.get("password")
    else:
        user, password = props.get("USERNAME"), props.get("PASSWORD")
    if not user:
        raise ValueError(
            f"Glue connection {name!r}: no username (in its secret {props.get('SECRET_ID')!r} or USERNAME)"
        )
    extra = {}
    if str(props.get("JDBC_ENFORCE_SSL", "false")).lower() == "true":
        extra["ssl"], extra["sslmode"] = (
            "true",
            "require",
        )  # Glue refuses a non-TLS session when the connection enforces SSL
    return url, user, password or "", extra


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _beyond(keys: list[str], values: list[str], op: str) -> str:
    """Rows after (`op` '>') or before ('<') `values` in the keys' lexicographic order."""
    terms = []
    for i, key in enumerate(keys):
        equal = [f"{k} = {_sql_literal(v)}" for k, v in zip(keys[:i], values[:i])]
        terms.append("(" + " AND ".join([*equal, f"{key} {op} {_sql_literal(values[i])}"]) + ")")
    return "(" + " OR ".join(terms) + ")"


def _jdbc_read(spark: Any, connection_type: str, options: dict, ctx: str) -> Any:
    if str(options.get("useConnectionProperties", "false")).lower() != "true" or not options.get("connectionName"):
        raise NotImplementedError(
            "awsglue (local runtime): JDBC reads are emulated through a Glue connection only "
            "(useConnectionProperties: 'true' and connectionName)"
        )
    table = options.get("dbtable")
    if not table:
        raise ValueError("JDBC connection_options need dbtable")
    if not _run.run().get("jdbcJars"):
        raise FileNotFoundError(
            "no JDBC driver jar for the emulator's Glue runs: apt-get install libpostgresql-jdbc-java "
            "(/usr/share/java/postgresql.jar), or set DATAPLAT_JDBC_JARS to the driver jars (colon-separated)"
        )
    url, user, password, extra = _connection(options["connectionName"])
    keys = list(options.get("jobBookmarkKeys") or [])
    order = str(options.get("jobBookmarkKeysSortOrder", "asc")).lower()
    op = {"asc": ">", "desc": "<"}.get(order)
    if op is None:
        raise ValueError(f"jobBookmarkKeysSortOrder must be asc or desc (got {order!r})")
    tracked = bool(keys) and bool(ctx) and _run.bookmarks_enabled()
    state = _run.bookmark_state(ctx) if tracked else None
    if state and state.get("jobBookmarkKeys") != keys:
        raise ValueError(
            f"job bookmark of {ctx!r} was kept for keys {state.get('jobBookmarkKeys')} but the read now uses {keys}: "
            "reset the job's bookmark (aws glue reset-job-bookmark)"
        )

    def reader(query: str) -> Any:
        r = (
            spark.read.format("jdbc")
            .option("url", url)
            .option("dbtable", query)
            .option("user", user)
            .option("password", password)
        )
        r = r.option("driver", JDBC_DRIVERS[connection_type])
        for k, v in extra.items():
            r = r.option(k, v)
        return r

    where = []
    if state:
        where.append(_beyond(keys, state["values"], op))
    if tracked:
        # As Glue does: fix the upper bound first, so rows written during the read wait for the next run.
        casts = ", ".join(f"CAST({k} AS VARCHAR(200)) AS k{i}" for i, k in enumerate(keys))
        order_by = ", ".join(f"{k} {'DESC' if op == '>' else 'ASC'}" for k in keys)
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        top = (
            reader(f"(SELECT {casts} FROM {table}{cond} ORDER BY {order_by} LIMIT 1) AS glue_bookmark_bound")
            .load()
            .collect()
        )
        if not top:
            if state:
                _run.staged[ctx] = state  # nothing new: the bookmark stays where it was
        else:
            bound = [top[0][f"k{i}"] for i in range(len(keys))]
            where.append("NOT " + _beyond(keys, bound, op))
            _run.staged[ctx] = {"jobBookmarkKeys": keys, "jobBookmarkKeysSortOrder": order, "values": bound}
    query = f"(SELECT * FROM {table}{' WHERE ' + ' AND '.join(where) if where else ''}) AS glue_source"
    hash_field, partitions = options.get("hashfield"), int(options.get("hashpartitions") or 0)
    if hash_field and partitions > 1 and connection_type == "postgresql":
        props = {"user": user, "password": password, "driver": JDBC_DRIVERS[connection_type], **extra}
        predicates = [f"mod(abs(hashtext(CAST({hash_field} AS text))), {partitions}) = {i}" for i in range(partitions)]
        return spark.read.jdbc(url, query, predicates=predicates, properties=props)
    return reader(query).load()


# ---------------------------------------------------------------------------------------------------------
# DynamoDB export connector
# ---------------------------------------------------------------------------------------------------------
def _plain(value: dict) -> Any:
    """One DynamoDB-JSON attribute value as plain JSON (what dynamodb.unnestDDBJson gives)."""
    ((kind, v),) = value.items()
    if kind == "S" or kind == "B":
        return v
    if kind == "N":
        number = Decimal(v)
        return (
            int(number)
            if number == number.to_integral_value() and "." not in v and "e" not in v.lower()
            else float(number)
        )
    if kind == "BOOL":
        return bool(v)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _plain(x) for k, x in v.items()}
    if kind == "L":
        return [_plain(x) for x in v]
    if kind in ("SS", "BS"):
        return list(v)
    if kind == "NS":
        return [_plain({"N": x}) for x in v]
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _dynamodb_export_read(spark: Any, options: dict) -> Any:
    if str(options.get("dynamodb.export", "")).lower() != "ddb":
        raise NotImplementedError(
            "awsglue (local runtime): only the export-based DynamoDB connector (dynamodb.export: ddb) is emulated"
        )
    for required in ("dynamodb.tableArn", "dynamodb.s3.bucket"):
        if not options.get(required):
            raise ValueError(f"DynamoDB export connector: {required} is required")
    if str(options.get("dynamodb.unnestDDBJson", "false")).lower() != "true":
        raise NotImplementedError(
            "awsglue (local runtime): the DynamoDB export connector is emulated with dynamodb.unnestDDBJson: true only"
        )
    bucket, prefix = options["dynamodb.s3.bucket"], options.get("dynamodb.s3.prefix", "")
    ddb, s3 = _run.client("dynamodb"), _run.client("s3")

    def data_keys() -> set[str]:
        keys, token = set(), None
        while True:
            page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {}))
            keys.update(
                o["Key"] for o in page.get("Contents", []) if "/AWSDynamoDB/" in o["Key"] and "/data/" in o["Key"]
            )
            token = page.get("NextContinuationToken")
            if not token:
                return keys

    before = data_keys()
    request = {
        "TableArn": options["dynamodb.tableArn"],
        "S3Bucket": bucket,
        "S3Prefix": prefix,
        "ExportFormat": "DYNAMODB_JSON",
    }
    if options.get("dynamodb.s3.bucketOwner"):
        request["S3BucketOwner"] = options["dynamodb.s3.bucketOwner"]
    export = ddb.export_table_to_point_in_time(**request)["ExportDescription"]
    deadline = time.monotonic() + float(os.environ.get("DATAPLAT_GLUE_EXPORT_TIMEOUT", "600"))
    while export["ExportStatus"] == "IN_PROGRESS":
        if time.monotonic() > deadline:
            raise TimeoutError(f"DynamoDB export {export['ExportArn']} did not complete in time")
        time.sleep(0.5)
        export = ddb.describe_export(ExportArn=export["ExportArn"])["ExportDescription"]
    if export["ExportStatus"] != "COMPLETED":
        raise RuntimeError(
            f"DynamoDB export {export['ExportArn']} {export['ExportStatus']}: "
            f"{export.get('FailureCode')} {export.get('FailureMessage')}"
        )
    export_id = export["ExportArn"].rsplit("/", 1)[-1]
    new = sorted(data_keys() - before)
    # AWS puts the files under AWSDynamoDB/<export id>/data/; moto 5.2.1 names that folder at random,
    # so the files this export added are the ones that were not there before it.
    files = [k for k in new if f"/AWSDynamoDB/{export_id}/" in k] or new
    lines = []
    for key in files:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        EXPORT_READS["objects"] += 1
        EXPORT_READS["bytes"] += len(body)
        text = gzip.decompress(body).decode("utf-8") if key.endswith(".gz") else body.decode("utf-8")
        for line in text.splitlines():
            if line.strip():
                item = json.loads(line)["Item"]
                lines.append(json.dumps({k: _plain(v) for k, v in item.items()}))
    if not lines:
        from pyspark.sql import types as T

        return spark.createDataFrame([], T.StructType([]))
    return spark.read.json(spark.sparkContext.parallelize(lines, 1))
