"""Firehose executed by the emulator: a Kinesis source delivered to S3 with dynamic partitioning."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import time
import uuid
from typing import Any

import pytest

from conftest import Emulator, wait_for
from services.firehose import Buffer

# The shape modules/ingestion/streaming.ts deploys (with the `local` partition spec).
QUERY = "{dt: .event_time[0:10], region: .region}"


@pytest.fixture()
def setup(emulator: Emulator) -> dict[str, str]:
    if shutil.which("jq") is None:
        pytest.fail(
            "the emulator's Firehose runs dynamic-partitioning queries with jq, which is not installed: apt-get install jq (Debian's jq 1.6)"
        )
    suffix = uuid.uuid4().hex[:8]
    s3, iam, kinesis, kms = (
        emulator.client("s3"),
        emulator.client("iam"),
        emulator.client("kinesis"),
        emulator.client("kms"),
    )
    bucket = f"raw-{suffix}"
    s3.create_bucket(Bucket=bucket)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    role = iam.create_role(
        RoleName=f"firehose-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    kinesis.create_stream(StreamName=f"events-{suffix}", ShardCount=2)
    stream_arn = kinesis.describe_stream_summary(StreamName=f"events-{suffix}")["StreamDescriptionSummary"]["StreamARN"]
    # What a delivery role needs (IAM is enforced): read the stream, write the bucket, encrypt through S3.
    iam.put_role_policy(
        RoleName=f"firehose-{suffix}",
        PolicyName="deliver",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "kinesis:DescribeStream",
                            "kinesis:DescribeStreamSummary",
                            "kinesis:GetShardIterator",
                            "kinesis:GetRecords",
                            "kinesis:ListShards",
                        ],
                        "Resource": stream_arn,
                    },
                    {
                        "Effect": "Allow",
                        "Action": [
                            "s3:AbortMultipartUpload",
                            "s3:GetBucketLocation",
                            "s3:GetObject",
                            "s3:ListBucket",
                            "s3:ListBucketMultipartUploads",
                            "s3:PutObject",
                        ],
                        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                        "Resource": key,
                        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
                    },
                ],
            }
        ),
    )
    return {
        "suffix": suffix,
        "bucket": bucket,
        "key": key,
        "role": role,
        "stream": f"events-{suffix}",
        "stream_arn": stream_arn,
    }


def delivery_stream(
    emulator: Emulator, setup: dict[str, str], *, interval: int = 60, size: int = 64, **overrides
) -> str:
    name = f"delivery-{setup['suffix']}"
    config = {
        "RoleARN": setup["role"],
        "BucketARN": f"arn:aws:s3:::{setup['bucket']}",
        "Prefix": "events/dt=!{partitionKeyFromQuery:dt}/region=!{partitionKeyFromQuery:region}/",
        "ErrorOutputPrefix": "_firehose-errors/events/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
        "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval},
        "CompressionFormat": "GZIP",
        "FileExtension": ".json.gz",
        "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": setup["key"]}},
        "DynamicPartitioningConfiguration": {"Enabled": True, "RetryOptions": {"DurationInSeconds": 300}},
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [
                {
                    "Type": "MetadataExtraction",
                    "Parameters": [
                        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": QUERY},
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                    ],
                },
                {
                    "Type": "AppendDelimiterToRecord",
                    "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}],
                },
            ],
        },
        **overrides,
    }
    emulator.client("firehose").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": setup["stream_arn"], "RoleARN": setup["role"]},
        ExtendedS3DestinationConfiguration=config,
    )
    return name


def objects(emulator: Emulator, bucket: str, count: int, timeout: float = 90) -> dict[str, dict]:
    s3 = emulator.client("s3")

    def listed() -> list[dict[str, Any]] | None:
        found = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return found if len(found) >= count else None

    return {
        o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])
        for o in wait_for(listed, timeout=timeout, what=f"{count} object(s) in {bucket}")
    }


def test_records_from_the_stream_land_partitioned_compressed_and_encrypted_and_bad_ones_under_the_error_prefix(
    emulator: Emulator, setup: dict
) -> None:
    name = delivery_stream(emulator, setup)
    kinesis = emulator.client("kinesis")
    good = [
        {"id": "a", "event_time": "2024-05-01T10:00:00Z", "region": "eu"},
        {"id": "b", "event_time": "2024-05-01T11:00:00Z", "region": "eu"},
        {"id": "c", "event_time": "2024-05-02T09:00:00Z", "region": "us"},
    ]
    entries = [{"Data": json.dumps(r).encode(), "PartitionKey": r["id"]} for r in good]
    entries += [
        {"Data": b"not json", "PartitionKey": "x"},
        {"Data": json.dumps({"id": "d", "region": "eu"}).encode(), "PartitionKey": "y"},
    ]
    kinesis.put_records(StreamName=setup["stream"], Records=entries)

    found = objects(emulator, setup["bucket"], 3)
    by_prefix = {k.rsplit("/", 1)[0] + "/": v for k, v in found.items()}
    assert set(by_prefix) == {
        "events/dt=2024-05-01/region=eu/",
        "events/dt=2024-05-02/region=us/",
        f"_firehose-errors/events/partitioning-failed/dt={time.strftime('%Y-%m-%d', time.gmtime())}/",
    }
    for key, answer in found.items():
        assert key.rsplit("/", 1)[1].startswith(f"{name}-1-") and key.endswith(".json.gz")
        assert answer["ServerSideEncryption"] == "aws:kms" and answer["SSEKMSKeyId"] == setup["key"]

    def lines(prefix: str) -> list[dict]:
        return [json.loads(line) for line in gzip.decompress(by_prefix[prefix]["Body"].read()).decode().splitlines()]

    assert sorted(r["id"] for r in lines("events/dt=2024-05-01/region=eu/")) == ["a", "b"]
    assert [r["id"] for r in lines("events/dt=2024-05-02/region=us/")] == ["c"]
    errors = lines(next(p for p in by_prefix if p.startswith("_firehose-errors/")))
    assert sorted(base64.b64decode(e["rawData"]) for e in errors) == [
        b"not json",
        json.dumps({"id": "d", "region": "eu"}).encode(),
    ]
    assert {e["errorCode"] for e in errors} == {"DynamicPartitioning.MetadataExtractionFailed"}


def test_put_record_to_a_kinesis_sourced_stream_is_refused(emulator: Emulator, setup: dict[str, str]) -> None:
    name = delivery_stream(emulator, setup)
    with pytest.raises(emulator.client("firehose").exceptions.InvalidArgumentException):
        emulator.client("firehose").put_record(DeliveryStreamName=name, Record={"Data": b"{}"})


def test_the_buffer_delivers_after_its_scaled_interval(emulator: Emulator, setup: dict[str, str]) -> None:
    # 900 s → 9 s at the default EMULATOR_SCALE of 0.01; one small record never fills 1 MB → 10 KB.
    delivery_stream(emulator, setup, interval=900, size=1)
    record = json.dumps({"id": "0", "event_time": "2024-05-01T00:00:00Z", "region": "eu"}).encode()
    emulator.client("kinesis").put_record(StreamName=setup["stream"], Data=record, PartitionKey="0")
    time.sleep(3)
    assert emulator.client("s3").list_objects_v2(Bucket=setup["bucket"]).get("KeyCount") == 0  # still buffered
    [(_, answer)] = objects(emulator, setup["bucket"], 1).items()
    assert [json.loads(line)["id"] for line in gzip.decompress(answer["Body"].read()).splitlines()] == ["0"]


def test_the_buffer_is_due_at_its_scaled_size_or_interval() -> None:
    class Stream:  # what Buffer reads of a delivery stream
        destinations = [{"ExtendedS3": {"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 900}}}]

    buffer = Buffer(Stream())
    buffer.add([(b"x" * 1000, 0.0)])
    assert buffer.take_if_due() == []  # 1 KB of about 10 KB, and the 9 s have not passed
    buffer.add([(b"y" * 10_000, 0.0)])
    assert [len(d) for d, _ in buffer.take_if_due()] == [1000, 10_000]  # the scaled size is reached
    buffer.add([(b"z", 0.0)])
    buffer.first_at -= 9.5  # as if the scaled interval had passed
    assert [d for d, _ in buffer.take_if_due()] == [b"z"]


def test_a_direct_put_stream_without_partitioning_gets_the_default_time_prefix(
    emulator: Emulator, setup: dict[str, str]
) -> None:
    name = f"direct-{setup['suffix']}"
    emulator.client("firehose").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": setup["role"],
            "BucketARN": f"arn:aws:s3:::{setup['bucket']}",
            "Prefix": "plain/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
            "CompressionFormat": "UNCOMPRESSED",
        },
    )
    emulator.client("firehose").put_record_batch(
        DeliveryStreamName=name, Records=[{"Data": b"one\n"}, {"Data": b"two\n"}]
    )
    [(key, answer)] = objects(emulator, setup["bucket"], 1).items()
    assert key.startswith(f"plain/{time.strftime('%Y/%m/%d/', time.gmtime())}") and f"/{name}-1-" in key
    assert answer["Body"].read() == b"one\ntwo\n"
