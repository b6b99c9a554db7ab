"""The emulator's DynamoDB exports (scripts/emulator/services/dynamodb_exports.py) through boto3,
against a started emulator: what a full export at a past time and an incremental export over a
window write to S3, in AWS's formats, and the AWS rules a request must keep."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from typing import Any, Callable, Iterator

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

import emulator_support

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator_support.Emulator]:
    # AWS's 15-minute floor of a window, lowered to 2 s so the test need not wait; every other rule is AWS's.
    yield from emulator_support.running(tmp_path_factory, {"DATAPLAT_EMULATOR_MIN_INCREMENTAL_EXPORT_SECONDS": "2"})


@pytest.fixture(scope="module")
def table(emulator: emulator_support.Emulator) -> dict[str, Any]:
    ddb, s3 = emulator.client("dynamodb"), emulator.client("s3")
    s3.create_bucket(Bucket="exports")
    arn = ddb.create_table(
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    ddb.update_continuous_backups(
        TableName="things", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )

    def item(n: int, v: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"p{n}"}, "sk": {"N": str(n)}, "v": {"S": v}}

    for n in (1, 2, 3, 4):
        ddb.put_item(TableName="things", Item=item(n, "a"))
    time.sleep(0.1)
    start = dt.datetime.now(UTC)
    time.sleep(0.1)
    ddb.update_item(
        TableName="things",
        Key={"pk": {"S": "p1"}, "sk": {"N": "1"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "b"}},
    )
    ddb.delete_item(TableName="things", Key={"pk": {"S": "p2"}, "sk": {"N": "2"}})
    ddb.batch_write_item(
        RequestItems={
            "things": [
                {"PutRequest": {"Item": item(5, "a")}},
                {"DeleteRequest": {"Key": {"pk": {"S": "p3"}, "sk": {"N": "3"}}}},
            ]
        }
    )
    ddb.put_item(TableName="things", Item=item(6, "a"))
    ddb.delete_item(TableName="things", Key={"pk": {"S": "p6"}, "sk": {"N": "6"}})  # created and deleted in the window
    ddb.put_item(TableName="things", Item=item(4, "a"))  # rewritten unchanged: not a change
    with pytest.raises(ClientError):  # a failed transaction changes nothing, and is not recorded
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "things", "Item": item(7, "a")}},
                {
                    "Update": {
                        "TableName": "things",
                        "Key": {"pk": {"S": "p1"}, "sk": {"N": "1"}},
                        "UpdateExpression": "SET v = :v",
                        "ConditionExpression": "v = :x",
                        "ExpressionAttributeValues": {":v": {"S": "c"}, ":x": {"S": "nope"}},
                    }
                },
            ]
        )
    time.sleep(2.2)
    end = dt.datetime.now(UTC)
    return {"arn": arn, "start": start, "end": end}


def read(s3: BaseClient, key: str) -> bytes:
    return s3.get_object(Bucket="exports", Key=key)["Body"].read()


def export(ddb: BaseClient, **request: Any) -> dict[str, Any]:
    started = ddb.export_table_to_point_in_time(S3Bucket="exports", ExportFormat="DYNAMODB_JSON", **request)[
        "ExportDescription"
    ]
    assert started["ExportStatus"] == "IN_PROGRESS"
    described = ddb.describe_export(ExportArn=started["ExportArn"])["ExportDescription"]
    assert described["ExportStatus"] == "COMPLETED"
    return described


def data_lines(s3: BaseClient, described: dict[str, Any]) -> tuple[dict, list[dict], list[dict]]:
    summary = json.loads(read(s3, described["ExportManifest"]))
    files = [json.loads(line) for line in read(s3, summary["manifestFilesS3Key"]).decode().splitlines()]
    lines = [json.loads(x) for f in files for x in gzip.decompress(read(s3, f["dataFileS3Key"])).decode().splitlines()]
    assert sum(f["itemCount"] for f in files) == summary["itemCount"] == described["ItemCount"] == len(lines)
    return summary, files, lines


def test_a_full_export_at_a_past_time_holds_the_table_as_it_was_then(
    emulator: emulator_support.Emulator, table: dict[str, Any]
) -> None:
    ddb, s3 = emulator.client("dynamodb"), emulator.client("s3")
    described = export(ddb, TableArn=table["arn"], S3Prefix="full", ExportTime=table["start"])
    assert described["ExportArn"].startswith(f"{table['arn']}/export/") and described["ExportType"] == "FULL_EXPORT"
    summary, files, lines = data_lines(s3, described)
    root = described["ExportManifest"].rsplit("/", 1)[0]
    assert (
        root.startswith("full/AWSDynamoDB/")
        and files[0]["dataFileS3Key"].startswith(f"{root}/data/")
        and files[0]["dataFileS3Key"].endswith(".json.gz")
    )
    assert (
        summary["exportType"] == "FULL_EXPORT"
        and summary["exportArn"] == described["ExportArn"]
        and "exportTime" in summary
    )
    assert sorted(line["Item"]["pk"]["S"] + line["Item"]["v"]["S"] for line in lines) == ["p1a", "p2a", "p3a", "p4a"]
    for name in ("_started", "manifest-files.checksum", "manifest-summary.checksum"):
        read(s3, f"{root}/{name}")


def test_an_incremental_export_holds_each_changed_item_once_with_its_images(
    emulator: emulator_support.Emulator, table: dict[str, Any]
) -> None:
    ddb, s3 = emulator.client("dynamodb"), emulator.client("s3")
    described = export(
        ddb,
        TableArn=table["arn"],
        S3Prefix="inc",
        ExportType="INCREMENTAL_EXPORT",
        IncrementalExportSpecification={"ExportFromTime": table["start"], "ExportToTime": table["end"]},
    )
    spec = described["IncrementalExportSpecification"]
    assert spec["ExportViewType"] == "NEW_AND_OLD_IMAGES" and described["ExportType"] == "INCREMENTAL_EXPORT"
    summary, _files, lines = data_lines(s3, described)
    assert summary["exportType"] == "INCREMENTAL_EXPORT" and summary["outputView"] == "NEW_AND_OLD_IMAGES"
    by_key = {line["Keys"]["pk"]["S"]: line for line in lines}
    assert sorted(by_key) == [
        "p1",
        "p2",
        "p3",
        "p5",
    ]  # p4 did not change, p6 came and went, the failed transaction left nothing
    assert by_key["p1"]["OldImage"]["v"] == {"S": "a"} and by_key["p1"]["NewImage"]["v"] == {"S": "b"}  # an update
    assert "NewImage" not in by_key["p2"] and by_key["p2"]["OldImage"]["v"] == {
        "S": "a"
    }  # a deletion: keys and the old image
    assert by_key["p2"]["Keys"] == {"pk": {"S": "p2"}, "sk": {"N": "2"}}
    assert "NewImage" not in by_key["p3"]  # deleted through BatchWriteItem
    assert "OldImage" not in by_key["p5"] and by_key["p5"]["NewImage"]["v"] == {"S": "a"}  # an insert
    micros = [int(line["Metadata"]["WriteTimestampMicros"]["N"]) for line in lines]
    assert all(table["start"].timestamp() * 1e6 <= m < table["end"].timestamp() * 1e6 for m in micros)


def test_new_images_only_leaves_old_images_out(emulator: emulator_support.Emulator, table: dict[str, Any]) -> None:
    ddb, s3 = emulator.client("dynamodb"), emulator.client("s3")
    described = export(
        ddb,
        TableArn=table["arn"],
        S3Prefix="new",
        ExportType="INCREMENTAL_EXPORT",
        IncrementalExportSpecification={
            "ExportFromTime": table["start"],
            "ExportToTime": table["end"],
            "ExportViewType": "NEW_IMAGE",
        },
    )
    _summary, _files, lines = data_lines(s3, described)
    assert all("OldImage" not in line for line in lines)
    assert {line["Keys"]["pk"]["S"] for line in lines if "NewImage" not in line} == {"p2", "p3"}


@pytest.mark.parametrize(
    "request_, message",
    [
        (
            lambda t: {
                "IncrementalExportSpecification": {
                    "ExportFromTime": t["end"] - dt.timedelta(seconds=1),
                    "ExportToTime": t["end"],
                }
            },
            "the export period must be at least 2 seconds",
        ),
        (
            lambda t: {
                "IncrementalExportSpecification": {
                    "ExportFromTime": t["end"] - dt.timedelta(hours=25),
                    "ExportToTime": t["end"],
                }
            },
            "the export period must be at most 24 hours",
        ),
        (
            lambda t: {
                "IncrementalExportSpecification": {
                    "ExportFromTime": t["start"],
                    "ExportToTime": t["end"] + dt.timedelta(hours=1),
                }
            },
            "ExportToTime must not be in the future",
        ),
        (
            lambda t: {"IncrementalExportSpecification": {"ExportFromTime": t["end"], "ExportToTime": t["start"]}},
            "ExportFromTime must be before ExportToTime",
        ),
        (lambda t: {}, "ExportFromTime is required"),
    ],
)
def test_an_incremental_export_keeps_aws_rules(
    emulator: emulator_support.Emulator,
    table: dict[str, Any],
    request_: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
) -> None:
    with pytest.raises(ClientError, match=message):
        emulator.client("dynamodb").export_table_to_point_in_time(
            TableArn=table["arn"],
            S3Bucket="exports",
            S3Prefix="bad",
            ExportType="INCREMENTAL_EXPORT",
            **request_(table),
        )


def test_a_table_without_point_in_time_recovery_cannot_be_exported(emulator: emulator_support.Emulator) -> None:
    ddb = emulator.client("dynamodb")
    arn = ddb.create_table(
        TableName="no-pitr",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    with pytest.raises(ClientError, match="PointInTimeRecoveryUnavailable"):
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="exports", S3Prefix="x")


def test_the_module_refuses_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import moto

    sys.path.insert(0, str(emulator_support.ROOT / "scripts" / "emulator"))
    from services import dynamodb_exports

    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match="written for moto 5.2.1; this is moto 9.9.9"):
        dynamodb_exports.install()
