"""Glue crawlers executed by the emulator: S3 targets crawled into the catalog, a real LastCrawl."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ACCOUNT, REGION, wait_for

if TYPE_CHECKING:
    from conftest import Emulator

# What the catalog module deploys (modules/catalog: CRAWLER_CONFIGURATION, exclusions, policies).
CONFIGURATION = json.dumps(
    {
        "Version": 1.0,
        "Grouping": {"TableLevelConfiguration": 2, "TableGroupingPolicy": "CombineCompatibleSchemas"},
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
    }
)
EXCLUSIONS = ["**/_SUCCESS", "**/_temporary/**", "**/*.crc"]


@pytest.fixture()
def lake(emulator: Emulator) -> dict[str, str]:
    s3, glue, iam = emulator.client("s3"), emulator.client("glue"), emulator.client("iam")
    suffix = uuid.uuid4().hex[:8]
    bucket, database = f"raw-{suffix}", f"raw_{suffix}"
    s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": database})
    role = iam.create_role(
        RoleName=f"crawler-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    # What a crawler role needs (IAM is enforced): read the target, write the database's catalog, log.
    iam.put_role_policy(
        RoleName=f"crawler-{suffix}",
        PolicyName="crawl",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
                    {
                        "Effect": "Allow",
                        "Action": [
                            "glue:GetDatabase",
                            "glue:GetTable",
                            "glue:CreateTable",
                            "glue:UpdateTable",
                            "glue:GetPartitions",
                            "glue:BatchCreatePartition",
                            "glue:BatchGetPartition",
                        ],
                        "Resource": [
                            f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog",
                            f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{database}",
                            f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{database}/*",
                        ],
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/crawlers:*",
                    },
                ],
            }
        ),
    )
    return {"bucket": bucket, "database": database, "role": role, "suffix": suffix}


def crawler(emulator: Emulator, lake: dict[str, str], folder: str, **extra) -> str:
    name = f"raw-{folder}-{lake['suffix']}"
    emulator.client("glue").create_crawler(
        Name=name,
        Role=lake["role"],
        DatabaseName=lake["database"],
        Configuration=CONFIGURATION,
        Targets={"S3Targets": [{"Path": f"s3://{lake['bucket']}/{folder}/", "Exclusions": EXCLUSIONS}]},
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
        **extra,
    )
    return name


def crawl(emulator: Emulator, name: str) -> dict:
    glue = emulator.client("glue")
    glue.start_crawler(Name=name)

    def finished() -> dict[str, Any] | None:
        c = glue.get_crawler(Name=name)["Crawler"]
        return c if c["State"] == "READY" and c.get("LastCrawl", {}).get("Status") != "RUNNING" else None

    return wait_for(finished, what=f"crawler {name} to finish")


def partitions(emulator: Emulator, lake: dict[str, str], table: str) -> list[list[str]]:
    found = emulator.client("glue").get_partitions(DatabaseName=lake["database"], TableName=table)["Partitions"]
    return sorted(p["Values"] for p in found)


def test_a_crawl_creates_the_missing_table_and_its_partitions_then_adds_only_new_ones(
    emulator: Emulator, lake: dict[str, str]
) -> None:
    s3 = emulator.client("s3")

    def put(key: str, body: bytes) -> dict[str, Any]:
        return s3.put_object(Bucket=lake["bucket"], Key=key, Body=body)

    put(
        "events/dt=2024-05-01/region=eu/part-0.json",
        b'{"id": "a", "n": 1, "ok": true, "nested": {"x": 1.5}}\n{"id": "b", "n": 2}\n',
    )
    put("events/dt=2024-05-01/region=us/part-0.json.gz", gzip.compress(b'{"id": "c", "n": 3}\n'))
    put("events/dt=2024-05-01/region=eu/_SUCCESS", b"")
    put("events/_temporary/0/x.json", b"not data")
    name = crawler(emulator, lake, "events")
    done = crawl(emulator, name)
    assert done["LastCrawl"]["Status"] == "SUCCEEDED"
    assert done["LastCrawl"]["StartTime"]

    table = emulator.client("glue").get_table(DatabaseName=lake["database"], Name="events")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "region"]
    assert {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]} == {
        "id": "string",
        "n": "bigint",
        "ok": "boolean",
        "nested": "struct<x:double>",
    }
    assert table["StorageDescriptor"]["Location"] == f"s3://{lake['bucket']}/events/"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert partitions(emulator, lake, "events") == [["2024-05-01", "eu"], ["2024-05-01", "us"]]
    [eu] = [
        p
        for p in emulator.client("glue").get_partitions(DatabaseName=lake["database"], TableName="events")["Partitions"]
        if p["Values"][1] == "eu"
    ]
    assert eu["StorageDescriptor"]["Location"] == f"s3://{lake['bucket']}/events/dt=2024-05-01/region=eu/"

    put("events/dt=2024-05-02/region=apac/part-0.json", b'{"id": "d", "other": "ignored by LOG"}\n')
    assert crawl(emulator, name)["LastCrawl"]["Status"] == "SUCCEEDED"
    assert partitions(emulator, lake, "events") == [["2024-05-01", "eu"], ["2024-05-01", "us"], ["2024-05-02", "apac"]]
    again = emulator.client("glue").get_table(DatabaseName=lake["database"], Name="events")["Table"]
    assert [c["Name"] for c in again["StorageDescriptor"]["Columns"]] == [
        "id",
        "n",
        "ok",
        "nested",
    ]  # schema kept (UpdateBehavior LOG)
    logs = emulator.client("logs").get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=name)["events"]
    assert any("1 partition(s) added, 2 already present" in e["message"] for e in logs)


def test_parquet_files_and_unnamed_folders(emulator: Emulator, lake: dict[str, str]) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([1], pa.int64()), "amount": pa.array([2.5]), "label": ["x"]}), buffer)
    emulator.client("s3").put_object(
        Bucket=lake["bucket"], Key="metrics/2024/05/part-0.parquet", Body=buffer.getvalue()
    )
    assert crawl(emulator, crawler(emulator, lake, "metrics"))["LastCrawl"]["Status"] == "SUCCEEDED"
    table = emulator.client("glue").get_table(DatabaseName=lake["database"], Name="metrics")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint"),
        ("amount", "double"),
        ("label", "string"),
    ]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["partition_0", "partition_1"]
    assert table["Parameters"]["classification"] == "parquet"
    assert partitions(emulator, lake, "metrics") == [["2024", "05"]]


def test_a_crawl_that_cannot_classify_its_files_fails_with_its_error(emulator: Emulator, lake: dict[str, str]) -> None:
    emulator.client("s3").put_object(
        Bucket=lake["bucket"], Key="broken/dt=2024-05-01/x.json", Body=b"this is not json\n"
    )
    done = crawl(emulator, crawler(emulator, lake, "broken"))
    assert done["LastCrawl"]["Status"] == "FAILED"
    assert "no JSON object found" in done["LastCrawl"]["ErrorMessage"]


def test_update_crawler_changes_only_the_named_fields(emulator: Emulator, lake: dict[str, str]) -> None:
    name = crawler(emulator, lake, "events", Description="before")
    glue = emulator.client("glue")
    glue.update_crawler(
        Name=name, Description="after", Targets={"S3Targets": [{"Path": f"s3://{lake['bucket']}/elsewhere/"}]}
    )
    updated = glue.get_crawler(Name=name)["Crawler"]
    assert updated["Description"] == "after"
    assert updated["Targets"]["S3Targets"] == [{"Path": f"s3://{lake['bucket']}/elsewhere/"}]
    assert updated["DatabaseName"] == lake["database"] and updated["Configuration"] == CONFIGURATION
    assert updated["Version"] == 2
