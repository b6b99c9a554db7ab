"""IAM enforcement (services/iam_enforce.py): the components' assumed-role sessions are decided as AWS decides them."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, wait_for
from services.iam_policy import condition_holds, decide

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from conftest import Emulator

ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def post(emulator: Emulator, path: str, body: dict | None = None) -> dict:
    context = ssl.create_default_context(cafile=emulator.ca_bundle)
    request = urllib.request.Request(emulator.endpoint + path, data=json.dumps(body or {}).encode(), method="POST")
    with urllib.request.urlopen(request, context=context) as response:
        return json.loads(response.read())


def role(emulator: Emulator, service: str, policy: dict) -> str:
    iam = emulator.client("iam")
    name = f"iam-test-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="grants", PolicyDocument=json.dumps(policy))
    return arn


def session(emulator: Emulator, service: str, role_arn: str, name: str) -> Callable[[str], BaseClient]:
    creds = emulator.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
    keys = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    return lambda svc: emulator.client(svc, **keys)


def denial(error: pytest.ExceptionInfo) -> tuple[str, str]:
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("operator", "expected", "actual", "holds"),
    [
        ("Bool", "false", "false", True),
        ("Bool", "false", "true", False),
        ("StringEquals", "s3.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com", True),
        ("StringEquals", "a", "b", False),
        ("StringLike", "raw/*", "raw/x/y", True),
        ("StringLike", "raw/*", "processed/x", False),
        ("StringNotEquals", "aws:kms", "AES256", True),
        ("StringNotEquals", "aws:kms", "aws:kms", False),
        ("StringNotEquals", "aws:kms", None, True),
        ("ArnLike", "arn:aws:pipes:*:1:pipe/*", "arn:aws:pipes:us-east-1:1:pipe/p", True),
        ("ArnLike", "arn:aws:pipes:*:1:pipe/*", None, False),
        ("ArnEquals", "arn:x", "arn:x", True),
        ("Null", "true", None, True),
        ("Null", "true", "aws:kms", False),
        ("Null", "false", "aws:kms", True),
        ("StringNotEqualsIfExists", "a", None, True),
        ("StringNotEqualsIfExists", "a", "a", False),
        ("ArnNotEqualsIfExists", "arn:r", "arn:other", True),
        ("ArnNotEqualsIfExists", "arn:r", "arn:r", False),
        ("NumericLessThan", "5", "3", False),  # not an operator the platform uses: never matches
    ],
)
def test_the_condition_operators_the_platform_uses(
    operator: str, expected: str, actual: str | None, holds: bool
) -> None:
    context = {} if actual is None else {"k": actual}
    assert condition_holds(operator, "k", expected, context) is holds


def test_a_key_policy_must_delegate_to_iam_before_identity_policies_count() -> None:
    identity = [("p", {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:k"}]})]
    common = dict(
        principal_arn="arn:aws:sts::1:assumed-role/r/s",
        role_arn="arn:aws:iam::1:role/r",
        account="1",
        action="kms:Decrypt",
        resource="arn:k",
        context={},
        identity_policies=identity,
        key_policy=True,
    )
    delegating = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "kms:*", "Resource": "*"}
        ]
    }
    closed = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/other"}, "Action": "kms:*", "Resource": "*"}
        ]
    }
    assert decide(**common, resource_policy=delegating).allowed
    assert not decide(**common, resource_policy=closed).allowed


def test_a_component_session_is_decided_from_its_role_the_bucket_policy_and_the_key(emulator: Emulator) -> None:
    s3, kms = emulator.client("s3"), emulator.client("kms")
    key = kms.create_key(
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Account",
                        "Effect": "Allow",
                        "Principal": {"AWS": ROOT},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        )
    )["KeyMetadata"]["Arn"]
    bucket = f"iam-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
        },
    )
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    grants = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Write",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"arn:aws:s3:::{bucket}/processed/*",
            },
            {
                "Sid": "List",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": ["processed/*"]}},
            },
            {
                "Sid": "Key",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}},
            },
        ],
    }
    role_arn = role(emulator, "firehose.amazonaws.com", grants)
    as_role = session(emulator, "firehose.amazonaws.com", role_arn, "firehose-iam-test")
    writer = as_role("s3")

    writer.put_object(Bucket=bucket, Key="processed/a.json", Body=b"{}")
    assert writer.get_object(Bucket=bucket, Key="processed/a.json")["Body"].read() == b"{}"
    writer.list_objects_v2(Bucket=bucket, Prefix="processed/")
    with pytest.raises(ClientError) as outside:
        writer.put_object(Bucket=bucket, Key="raw/a.json", Body=b"{}")
    code, message = denial(outside)
    assert code == "AccessDenied"
    assert f"assumed-role/{role_arn.split('/')[-1]}/firehose-iam-test" in message
    assert f"s3:PutObject on resource: arn:aws:s3:::{bucket}/raw/a.json" in message
    with pytest.raises(ClientError) as listing:
        writer.list_objects_v2(Bucket=bucket, Prefix="raw/")
    assert "s3:ListBucket" in denial(listing)[1]

    # The key is used through S3 only: the same grant does not allow a direct KMS call.
    with pytest.raises(ClientError) as direct:
        as_role("kms").generate_data_key(KeyId=key, KeySpec="AES_256")
    assert (
        denial(direct)[0] == "AccessDeniedException" and f"kms:GenerateDataKey on resource: {key}" in denial(direct)[1]
    )

    # Remove the key grant: the write fails at the KMS call S3 makes for it.
    without_key = {**grants, "Statement": grants["Statement"][:2]}
    emulator.client("iam").put_role_policy(
        RoleName=role_arn.split("/")[-1], PolicyName="grants", PolicyDocument=json.dumps(without_key)
    )
    with pytest.raises(ClientError) as write:
        writer.put_object(Bucket=bucket, Key="processed/b.json", Body=b"{}")
    assert f"kms:GenerateDataKey on resource: {key}" in denial(write)[1]
    with pytest.raises(ClientError) as read:
        writer.get_object(Bucket=bucket, Key="processed/a.json")
    assert f"kms:Decrypt on resource: {key}" in denial(read)[1]


def test_queue_and_state_machine_calls_are_denied_in_their_protocols_shape(emulator: Emulator) -> None:
    sqs = emulator.client("sqs")
    allowed_url = sqs.create_queue(QueueName=f"iam-ok-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    other_url = sqs.create_queue(QueueName=f"iam-no-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    allowed_arn = sqs.get_queue_attributes(QueueUrl=allowed_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:iam-none"
    role_arn = role(
        emulator,
        "pipes.amazonaws.com",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": allowed_arn}],
        },
    )
    as_role = session(emulator, "pipes.amazonaws.com", role_arn, "pipe-iam-test")
    as_role("sqs").send_message(QueueUrl=allowed_url, MessageBody="ok")
    with pytest.raises(ClientError) as queue:
        as_role("sqs").send_message(QueueUrl=other_url, MessageBody="no")
    assert denial(queue)[0] in ("AccessDenied", "AccessDeniedException")
    assert f"sqs:SendMessage on resource: arn:aws:sqs:{REGION}:{ACCOUNT}:{other_url.split('/')[-1]}" in denial(queue)[1]
    with pytest.raises(ClientError) as start:
        as_role("stepfunctions").start_execution(stateMachineArn=machine, input="{}")
    assert (
        denial(start)[0] == "AccessDeniedException"
        and f"states:StartExecution on resource: {machine}" in denial(start)[1]
    )


def test_assume_role_is_checked_against_the_trust_policy(emulator: Emulator) -> None:
    role_arn = role(
        emulator,
        "lambda.amazonaws.com",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]},
    )
    with pytest.raises(ClientError) as error:
        emulator.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="pipe-not-trusted")
    code, message = denial(error)
    assert code == "AccessDenied" and "service pipes.amazonaws.com" in message and "sts:AssumeRole" in message


def test_state_machine_tasks_run_with_the_state_machine_role(emulator: Emulator) -> None:
    sqs = emulator.client("sqs")
    allowed_url = sqs.create_queue(QueueName=f"iam-sfn-ok-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    other_url = sqs.create_queue(QueueName=f"iam-sfn-no-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    allowed_arn = sqs.get_queue_attributes(QueueUrl=allowed_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role_arn = role(
        emulator,
        "states.amazonaws.com",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": allowed_arn}],
        },
    )
    post(emulator, "/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    sfn = emulator.client("stepfunctions")

    def run(url: str) -> dict:
        definition = {
            "StartAt": "Send",
            "States": {
                "Send": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage",
                    "Parameters": {"QueueUrl": url, "MessageBody": "hi"},
                    "End": True,
                }
            },
        }
        arn = sfn.create_state_machine(
            name=f"iam-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role_arn
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        return wait_for(
            lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
            what="execution end",
        )

    assert run(allowed_url)["status"] == "SUCCEEDED"
    refused = run(other_url)
    assert refused["status"] == "FAILED"
    history = json.dumps(sfn.get_execution_history(executionArn=refused["executionArn"])["events"], default=str)
    assert "sqs:SendMessage" in history and role_arn.split("/")[-1] in history

    summary = post(emulator, "/_emulator/iam/decisions")
    assert any(
        d["action"] == "sqs:SendMessage" and d["role"] == role_arn and not d["allowed"] for d in summary["denials"]
    )
    assert summary["counts"]["deploy"]["decided"] > 0


def test_the_decision_log_counts_who_signed_each_request_per_phase(emulator: Emulator) -> None:
    post(emulator, "/_emulator/iam/phase", {"phase": "iam-test-data"})
    try:
        emulator.client("sqs").list_queues()
        time.sleep(0.1)
        counts = post(emulator, "/_emulator/iam/decisions")["counts"]["iam-test-data"]
        assert counts["terraformSigned"] >= 1 and counts["unsigned"] == 0
        log = Path(post(emulator, "/_emulator/iam/decisions")["log"])
        assert log.exists() and '"signer": "terraform"' in log.read_text()
    finally:
        post(emulator, "/_emulator/iam/phase", {"phase": "deploy"})
