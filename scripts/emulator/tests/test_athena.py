"""Athena executed by the emulator: DuckDB over the Glue catalog, results to the workgroup's output."""

from __future__ import annotations

import csv
import io
import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.config import Config

from conftest import Emulator, wait_for

if TYPE_CHECKING:
    from botocore.client import BaseClient

COLUMNS = [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"}, {"Name": "name", "Type": "string"}]


def parquet(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(
        pa.Table.from_pylist(
            rows, schema=pa.schema([("id", pa.int64()), ("amount", pa.float64()), ("name", pa.string())])
        ),
        buffer,
    )
    return buffer.getvalue()


@pytest.fixture()
def lake(emulator: Emulator) -> dict[str, Any]:
    """A consumer table with partition projection (as modules/catalog deploys it) and a workgroup like the analysts'."""
    s3, glue, kms = emulator.client("s3"), emulator.client("glue"), emulator.client("kms")
    suffix = uuid.uuid4().hex[:8]
    data, results, db = f"consumer-{suffix}", f"results-{suffix}", f"consumer_{suffix}"
    for bucket in (data, results):
        s3.create_bucket(Bucket=bucket)
    files = {
        "facts/dt=2024-05-01/region=eu/part-0.parquet": [
            {"id": 1, "amount": 2.5, "name": 'a "quoted" name'},
            {"id": 2, "amount": None, "name": "b"},
        ],
        "facts/dt=2024-05-02/region=us/part-0.parquet": [{"id": 3, "amount": 4.0, "name": "c"}],
        # Outside the projection: before its range, and a region it does not list. Athena never sees them.
        "facts/dt=2023-12-31/region=eu/part-0.parquet": [{"id": 98, "amount": 1.0, "name": "old"}],
        "facts/dt=2024-05-01/region=mars/part-0.parquet": [{"id": 99, "amount": 1.0, "name": "alien"}],
    }
    sizes = {}
    for key, rows in files.items():
        body = parquet(rows)
        s3.put_object(Bucket=data, Key=key, Body=body)
        sizes[key] = len(body)
    s3.put_object(Bucket=data, Key="facts/dt=2024-05-01/region=eu/_SUCCESS", Body=b"")
    glue.create_database(DatabaseInput={"Name": db})
    location = f"s3://{data}/facts/"
    glue.create_table(
        DatabaseName=db,
        TableInput={
            "Name": "facts",
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "region", "Type": "string"}],
            "StorageDescriptor": {
                "Columns": COLUMNS,
                "Location": location,
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
            },
            "Parameters": {
                "classification": "parquet",
                "projection.enabled": "true",
                "projection.dt.type": "date",
                "projection.dt.format": "yyyy-MM-dd",
                "projection.dt.range": "2024-01-01,NOW",
                "projection.dt.interval": "1",
                "projection.dt.interval.unit": "DAYS",
                "projection.region.type": "enum",
                "projection.region.values": "eu,us,apac",
                "storage.location.template": location + "dt=${dt}/region=${region}/",
            },
        },
    )
    key = kms.create_key()["KeyMetadata"]["Arn"]
    workgroup = f"analysts-{suffix}"
    athena(emulator).create_work_group(
        Name=workgroup,
        Configuration={
            "EnforceWorkGroupConfiguration": True,
            "ResultConfiguration": {
                "OutputLocation": f"s3://{results}/analysts/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": key},
            },
        },
    )
    return {"data": data, "results": results, "db": db, "workgroup": workgroup, "key": key, "sizes": sizes}


def athena(emulator: Emulator) -> BaseClient:
    # Athena refuses cutoffs under 10 MB; the test's files are smaller, so the client skips that check.
    import boto3

    return boto3.client(
        "athena",
        endpoint_url=emulator.endpoint,
        region_name="us-east-1",
        verify=emulator.ca_bundle,
        aws_access_key_id="AKIA123456789012EMUL",
        aws_secret_access_key="emulator",
        config=Config(parameter_validation=False),
    )


def run(emulator: Emulator, lake: dict[str, Any], sql: str, **extra) -> dict:
    client = athena(emulator)
    qid = client.start_query_execution(
        QueryString=sql,
        WorkGroup=lake["workgroup"],
        QueryExecutionContext={"Database": lake["db"]},
        ResultConfiguration={"OutputLocation": f"s3://{lake['data']}/not-here/"},
        **extra,
    )["QueryExecutionId"]

    def done() -> dict[str, Any] | None:
        q = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        return q if q["Status"]["State"] not in ("QUEUED", "RUNNING") else None

    return wait_for(done, what=f"query {qid}")


def rows(emulator: Emulator, qid: str) -> tuple[list[list], list[str]]:
    answer = athena(emulator).get_query_results(QueryExecutionId=qid)
    values = [[d.get("VarCharValue") for d in r["Data"]] for r in answer["ResultSet"]["Rows"]]
    return values, [c["Type"] for c in answer["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]


def test_a_query_reads_only_its_projected_partition_and_writes_encrypted_csv_results(
    emulator: Emulator, lake: dict[str, Any]
) -> None:
    q = run(
        emulator,
        lake,
        f'SELECT "dt", "region", "id", "amount", "name" FROM "{lake["db"]}"."facts" WHERE dt = \'2024-05-01\' ORDER BY id LIMIT 100',
    )
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
    # Only the eu file of that day is read: the mars folder is outside the projection's enum.
    assert q["Statistics"]["DataScannedInBytes"] == lake["sizes"]["facts/dt=2024-05-01/region=eu/part-0.parquet"]
    values, types = rows(emulator, q["QueryExecutionId"])
    assert values == [
        ["dt", "region", "id", "amount", "name"],
        ["2024-05-01", "eu", "1", "2.5", 'a "quoted" name'],
        ["2024-05-01", "eu", "2", None, "b"],
    ]
    assert types == ["varchar", "varchar", "bigint", "double", "varchar"]
    # Results go where the workgroup says (it enforces its configuration over the request's), under its key.
    output = q["ResultConfiguration"]["OutputLocation"]
    assert output == f"s3://{lake['results']}/analysts/{q['QueryExecutionId']}.csv"
    obj = emulator.client("s3").get_object(Bucket=lake["results"], Key=f"analysts/{q['QueryExecutionId']}.csv")
    assert obj["ServerSideEncryption"] == "aws:kms" and obj["SSEKMSKeyId"] == lake["key"]
    assert list(csv.reader(io.StringIO(obj["Body"].read().decode()))) == [
        ["dt", "region", "id", "amount", "name"],
        ["2024-05-01", "eu", "1", "2.5", 'a "quoted" name'],
        ["2024-05-01", "eu", "2", "", "b"],
    ]


def test_a_full_scan_sees_only_what_the_projection_allows(emulator: Emulator, lake: dict[str, Any]) -> None:
    q = run(emulator, lake, f'SELECT count(*) AS n, sum(id) AS ids FROM "{lake["db"]}"."facts"')
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
    assert rows(emulator, q["QueryExecutionId"])[0][1] == ["3", "6"]
    visible = ("facts/dt=2024-05-01/region=eu/part-0.parquet", "facts/dt=2024-05-02/region=us/part-0.parquet")
    assert q["Statistics"]["DataScannedInBytes"] == sum(lake["sizes"][k] for k in visible)


def test_the_workgroup_cutoff_fails_a_query_that_would_scan_more_and_update_work_group_changes_it(
    emulator: Emulator, lake: dict
) -> None:
    client = athena(emulator)
    one_file = lake["sizes"]["facts/dt=2024-05-01/region=eu/part-0.parquet"]
    client.update_work_group(
        WorkGroup=lake["workgroup"], ConfigurationUpdates={"BytesScannedCutoffPerQuery": one_file + 1}
    )
    assert (
        client.get_work_group(WorkGroup=lake["workgroup"])["WorkGroup"]["Configuration"]["BytesScannedCutoffPerQuery"]
        == one_file + 1
    )
    failed = run(emulator, lake, f'SELECT * FROM "{lake["db"]}"."facts"')
    assert failed["Status"]["State"] == "FAILED"
    assert "Bytes scanned limit was exceeded" in failed["Status"]["StateChangeReason"]
    assert (
        failed["Status"]["AthenaError"]["ErrorCategory"] == 2 and failed["Status"]["AthenaError"]["Retryable"] is False
    )
    with pytest.raises(client.exceptions.InvalidRequestException, match="FAILED"):
        client.get_query_results(QueryExecutionId=failed["QueryExecutionId"])
    # One day fits under the cutoff.
    assert (
        run(emulator, lake, f'SELECT * FROM "{lake["db"]}"."facts" WHERE dt = \'2024-05-01\'')["Status"]["State"]
        == "SUCCEEDED"
    )
    client.update_work_group(
        WorkGroup=lake["workgroup"], ConfigurationUpdates={"RemoveBytesScannedCutoffPerQuery": True}
    )
    assert run(emulator, lake, f'SELECT * FROM "{lake["db"]}"."facts"')["Status"]["State"] == "SUCCEEDED"


def test_a_query_duckdb_cannot_run_fails_with_athenas_error_shape(emulator: Emulator, lake: dict[str, Any]) -> None:
    q = run(emulator, lake, f'SELECT approx_set(id) FROM "{lake["db"]}".facts')
    assert q["Status"]["State"] == "FAILED"
    assert q["Status"]["StateChangeReason"].startswith(
        "NOT_SUPPORTED: DuckDB, which runs Athena queries in the emulator, could not run this query:"
    )
    assert "approx_set" in q["Status"]["AthenaError"]["ErrorMessage"]
    missing = run(emulator, lake, f'SELECT * FROM "{lake["db"]}"."nope"')
    assert (
        missing["Status"]["StateChangeReason"]
        == f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{lake['db']}.nope' does not exist"
    )


def test_a_json_table_with_catalog_partitions_and_a_bare_table_name(emulator: Emulator, lake: dict[str, Any]) -> None:
    s3, glue = emulator.client("s3"), emulator.client("glue")
    s3.put_object(
        Bucket=lake["data"],
        Key="raw/dt=2024-05-01/a.json",
        Body=b'{"id": 7, "amount": 1.5, "name": "x"}\n{"id": 8, "name": "y", "extra": 1}\n',
    )
    s3.put_object(
        Bucket=lake["data"], Key="raw/dt=2024-05-09/a.json", Body=b'{"id": 9}\n'
    )  # no catalog partition: not read
    sd = {
        "Columns": COLUMNS,
        "Location": f"s3://{lake['data']}/raw/",
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
    }
    glue.create_table(
        DatabaseName=lake["db"],
        TableInput={"Name": "raw", "PartitionKeys": [{"Name": "dt", "Type": "string"}], "StorageDescriptor": sd},
    )
    glue.create_partition(
        DatabaseName=lake["db"],
        TableName="raw",
        PartitionInput={
            "Values": ["2024-05-01"],
            "StorageDescriptor": {**sd, "Location": f"s3://{lake['data']}/raw/dt=2024-05-01/"},
        },
    )
    q = run(emulator, lake, "SELECT id, amount, name, dt FROM raw ORDER BY id")
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"]
    assert rows(emulator, q["QueryExecutionId"])[0] == [
        ["id", "amount", "name", "dt"],
        ["7", "1.5", "x", "2024-05-01"],
        ["8", None, "y", "2024-05-01"],
    ]
