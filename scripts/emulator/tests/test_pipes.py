"""EventBridge Pipes executed by the emulator: SQS source → Step Functions target, as deployed."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from conftest import Emulator, wait_for
from services.pipes import render_template

# The platform's template (modules/orchestration: PIPE_RECORD_TEMPLATE).
TEMPLATE = '{"key": "<$.body.detail.object.key>"}'


def object_created(key: str) -> str:
    return json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": "raw"}, "object": {"key": key, "size": 3}},
        }
    )


@pytest.fixture()
def setup(emulator: Emulator) -> dict[str, str]:
    """A landing queue with its DLQ (maxReceiveCount 2), a state machine and a pipe role."""
    sqs, sfn, iam = emulator.client("sqs"), emulator.client("stepfunctions"), emulator.client("iam")
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"landed-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"landed-{suffix}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = iam.create_role(
        RoleName=f"pipe-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "pipes.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    # What a pipe role needs (IAM is enforced): consume its queue, start its account's pipeline machines.
    iam.put_role_policy(
        RoleName=f"pipe-{suffix}",
        PolicyName="pipe",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                            "sqs:ChangeMessageVisibility",
                        ],
                        "Resource": queue_arn,
                    },
                    {
                        "Effect": "Allow",
                        "Action": "states:StartExecution",
                        "Resource": f"arn:aws:states:us-east-1:{queue_arn.split(':')[4]}:stateMachine:*",
                    },
                ],
            }
        ),
    )
    machine = sfn.create_state_machine(
        name=f"pipeline-{suffix}",
        roleArn=role,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )["stateMachineArn"]
    return {"suffix": suffix, "queue": queue, "queue_arn": queue_arn, "dlq": dlq, "role": role, "machine": machine}


def create_pipe(
    emulator: Emulator, setup: dict[str, str], *, batch_size: int, window: int, target: str | None = None, **extra
) -> str:
    name = f"pipe-{setup['suffix']}"
    emulator.client("pipes").create_pipe(
        Name=name,
        RoleArn=setup["role"],
        Source=setup["queue_arn"],
        Target=target or setup["machine"],
        SourceParameters={"SqsQueueParameters": {"BatchSize": batch_size, "MaximumBatchingWindowInSeconds": window}},
        TargetParameters={
            "InputTemplate": TEMPLATE,
            "StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"},
        },
        **extra,
    )
    return name


def execution_inputs(emulator: Emulator, machine: str, count: int) -> list[list]:
    sfn = emulator.client("stepfunctions")

    def done() -> list[dict[str, Any]] | None:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        return executions if len(executions) >= count else None

    executions = sorted(wait_for(done, what=f"{count} execution(s) of {machine}"), key=lambda e: e["startDate"])
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]


def visible(emulator: Emulator, queue: str) -> int:
    attrs = emulator.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_a_full_batch_starts_one_execution_with_the_templated_records_and_empties_the_queue(
    emulator: Emulator, setup: dict[str, str]
) -> None:
    sqs = emulator.client("sqs")
    sqs.send_message_batch(
        QueueUrl=setup["queue"],
        Entries=[{"Id": str(i), "MessageBody": object_created(f"raw/a/{i}.json")} for i in range(3)],
    )
    create_pipe(emulator, setup, batch_size=3, window=30)  # a full batch goes at once, long before its window ends
    [first] = execution_inputs(emulator, setup["machine"], 1)
    assert sorted(first, key=lambda r: r["key"]) == [
        {"key": "raw/a/0.json"},
        {"key": "raw/a/1.json"},
        {"key": "raw/a/2.json"},
    ]
    wait_for(lambda: visible(emulator, setup["queue"]) == 0, what="the delivered messages to be deleted")


def test_the_batching_window_gathers_records_that_arrive_apart(emulator: Emulator, setup: dict[str, str]) -> None:
    sqs = emulator.client("sqs")
    # As deployed: the buffer's visibility timeout outlasts the window.
    sqs.set_queue_attributes(QueueUrl=setup["queue"], Attributes={"VisibilityTimeout": "10"})
    create_pipe(emulator, setup, batch_size=10, window=3)
    sqs.send_message(QueueUrl=setup["queue"], MessageBody=object_created("raw/b/first.json"))
    time.sleep(1)
    sqs.send_message(QueueUrl=setup["queue"], MessageBody=object_created("raw/b/second.json"))
    [batch] = execution_inputs(emulator, setup["machine"], 1)
    assert batch == [{"key": "raw/b/first.json"}, {"key": "raw/b/second.json"}]


def test_a_batch_the_target_refuses_returns_and_ends_in_the_dead_letter_queue(
    emulator: Emulator, setup: dict[str, str]
) -> None:
    missing = setup["machine"].rsplit(":", 1)[0] + ":no-such-machine"
    create_pipe(emulator, setup, batch_size=1, window=0, target=missing)
    emulator.client("sqs").send_message(QueueUrl=setup["queue"], MessageBody=object_created("raw/c/lost.json"))
    sqs = emulator.client("sqs")
    dead = wait_for(
        lambda: sqs.receive_message(QueueUrl=setup["dlq"], WaitTimeSeconds=1).get("Messages"),
        timeout=30,
        what="the message in the DLQ",
    )
    assert json.loads(dead[0]["Body"])["detail"]["object"]["key"] == "raw/c/lost.json"
    assert visible(emulator, setup["queue"]) == 0
    assert "not delivered to " + missing in emulator.log_text()


def test_a_refused_batch_returns_after_the_queues_visibility_timeout_scaled(
    emulator: Emulator, setup: dict[str, str]
) -> None:
    # As deployed (window + 300 s grace): unscaled, maxReceiveCount 2 would take ten minutes to dead-letter.
    sqs = emulator.client("sqs")
    sqs.set_queue_attributes(QueueUrl=setup["queue"], Attributes={"VisibilityTimeout": "302"})
    missing = setup["machine"].rsplit(":", 1)[0] + ":no-such-machine"
    create_pipe(emulator, setup, batch_size=1, window=0, target=missing)
    sqs.send_message(QueueUrl=setup["queue"], MessageBody=object_created("raw/e/late.json"))
    # Within a minute: the message came back after 302 s × EMULATOR_SCALE (0.01) each time, not 302 s.
    dead = wait_for(
        lambda: sqs.receive_message(QueueUrl=setup["dlq"], WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages"),
        timeout=60,
        what="the message in the DLQ",
    )
    assert json.loads(dead[0]["Body"])["detail"]["object"]["key"] == "raw/e/late.json"
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= 2  # refused at least maxReceiveCount times first


def test_a_stopped_pipe_does_not_poll_until_started(emulator: Emulator, setup: dict[str, str]) -> None:
    name = create_pipe(emulator, setup, batch_size=1, window=0, DesiredState="STOPPED")
    emulator.client("sqs").send_message(QueueUrl=setup["queue"], MessageBody=object_created("raw/d/waiting.json"))
    time.sleep(3)  # six supervision ticks: a polling pipe would have delivered it
    assert emulator.client("stepfunctions").list_executions(stateMachineArn=setup["machine"])["executions"] == []
    assert visible(emulator, setup["queue"]) == 1
    emulator.client("pipes").start_pipe(Name=name)
    assert execution_inputs(emulator, setup["machine"], 1) == [[{"key": "raw/d/waiting.json"}]]


def test_templates_follow_pipes_placeholder_rules() -> None:
    record = {"messageId": "m1", "body": json.dumps({"n": 3, "o": {"a": [1, "x"]}, "s": 'q"uote'})}
    assert render_template('{"n": <$.body.n>, "o": <$.body.o>, "s": "<$.body.s>"}', record, {}) == {
        "n": 3,
        "o": {"a": [1, "x"]},
        "s": 'q"uote',
    }
    # Inside a string a non-string value is written as its JSON text; an absent path is null / empty.
    assert render_template('{"o": "o=<$.body.o>", "gone": <$.body.none>, "g": "<$.body.none>"}', record, {}) == {
        "o": 'o={"a": [1, "x"]}',
        "gone": None,
        "g": "",
    }
    assert render_template('{"first": <$.body.o.a[0]>, "id": "<$.messageId>"}', record, {}) == {"first": 1, "id": "m1"}
    # A body that is not JSON stays text; a template that is not JSON yields text.
    assert render_template("id <$.messageId>: <$.body>", {"messageId": "m2", "body": "plain"}, {}) == "id m2: plain"
    assert render_template('{"pipe": "<aws.pipes.pipe-name>"}', record, {"aws.pipes.pipe-name": "p"}) == {"pipe": "p"}


def test_an_object_put_into_s3_reaches_the_pipeline_as_its_key_through_the_rule_buffer_and_pipe(
    emulator: Emulator, setup: dict
) -> None:
    """The deployed chain: S3 → EventBridge rule → SQS buffer → Pipe → state machine input."""
    s3, events, sqs = emulator.client("s3"), emulator.client("events"), emulator.client("sqs")
    bucket = f"raw-{setup['suffix']}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    rule = f"raw-created-{setup['suffix']}"
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "events/"}]}},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "buffer", "Arn": setup["queue_arn"]}])
    sqs.set_queue_attributes(QueueUrl=setup["queue"], Attributes={"VisibilityTimeout": "10"})
    create_pipe(emulator, setup, batch_size=10, window=2)
    for key in ("events/dt=2024-05-01/a.json", "events/dt=2024-05-01/b.json", "elsewhere/c.json"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    [batch] = execution_inputs(emulator, setup["machine"], 1)
    assert sorted(batch, key=lambda r: r["key"]) == [
        {"key": "events/dt=2024-05-01/a.json"},
        {"key": "events/dt=2024-05-01/b.json"},
    ]
