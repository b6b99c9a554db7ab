"""EventBridge Scheduler's universal target for Glue StartJobRun: a fired schedule starts the job run
with the target's Input as the request, as the target's role; a start Glue refuses is retried and
dead-lettered with Scheduler's error attributes."""

from __future__ import annotations

import json
import ssl
import urllib.request
import uuid
from typing import TYPE_CHECKING

from conftest import ACCOUNT, wait_for

if TYPE_CHECKING:
    from conftest import Emulator

TARGET = "arn:aws:scheduler:::aws-sdk:glue:startJobRun"


def fire(emulator: Emulator, arn: str) -> dict:
    request = urllib.request.Request(
        f"{emulator.endpoint}/_emulator/scheduler/fire", data=json.dumps({"ScheduleArn": arn}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=emulator.ca_bundle)) as response:
        return json.loads(response.read())


def setup(emulator: Emulator, source_group: str | None = None) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    iam = emulator.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["scheduler.amazonaws.com", "glue.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    if source_group:  # the platform's confused-deputy guard: only this account's schedules of one group
        trust["Statement"][0]["Condition"] = {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule-group/{source_group}"},
        }
    role = iam.create_role(RoleName=f"extract-schedule-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    # What the role needs (the emulator enforces it): as the schedule's, start its job and dead-letter
    # what it cannot start; as the job's, read its script.
    jobs = [f"arn:aws:glue:us-east-1:{ACCOUNT}:job/{name}" for name in (f"extract-{suffix}", "no-such-job")]
    grants = [
        {"Effect": "Allow", "Action": "glue:StartJobRun", "Resource": jobs},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::scripts-{suffix}/job.py"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:extract-dlq-*"},
    ]
    iam.put_role_policy(
        RoleName=f"extract-schedule-{suffix}",
        PolicyName="schedule",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": grants}),
    )
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=f"scripts-{suffix}")
    s3.put_object(Bucket=f"scripts-{suffix}", Key="job.py", Body=b'print("extracted")\n')
    job = f"extract-{suffix}"
    emulator.client("glue").create_job(
        Name=job,
        Role=role,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://scripts-{suffix}/job.py", "PythonVersion": "3"},
    )
    return job, role


def queue(emulator: Emulator, name: str) -> tuple[str, str]:
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_a_fired_glue_universal_target_starts_the_job_run_with_the_schedule_input(emulator: Emulator) -> None:
    job, role = setup(emulator)
    schedule = emulator.client("scheduler").create_schedule(
        Name=f"{job}-schedule",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": TARGET,
            "RoleArn": role,
            "Input": json.dumps({"JobName": job, "Arguments": {"--from_schedule": "yes"}}),
        },
    )["ScheduleArn"]
    answer = fire(emulator, schedule)
    assert answer["Status"] == "INVOKED", answer
    run_id = answer["Response"]["JobRunId"]
    glue = emulator.client("glue")
    run = wait_for(
        lambda: (
            (r := glue.get_job_run(JobName=job, RunId=run_id)["JobRun"])["JobRunState"]
            in ("SUCCEEDED", "FAILED", "ERROR")
            and r
        ),
        timeout=300,
        what=f"job run {run_id} to end",
    )
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Arguments"]["--from_schedule"] == "yes"


def test_the_trust_policy_sees_the_schedule_group_as_aws_source_arn(emulator: Emulator) -> None:
    for group, invoked in (("default", True), ("another-group", False)):
        job, role = setup(emulator, source_group=group)
        schedule = emulator.client("scheduler").create_schedule(
            Name=f"{job}-schedule",
            ScheduleExpression="rate(1 day)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": TARGET,
                "RoleArn": role,
                "Input": json.dumps({"JobName": job}),
                "RetryPolicy": {"MaximumRetryAttempts": 0},
            },
        )["ScheduleArn"]
        answer = fire(emulator, schedule)
        if invoked:
            assert answer["Status"] == "INVOKED", answer
        else:
            assert answer["Status"] == "FAILED" and "AccessDenied" in answer["Error"], answer


def test_a_glue_start_that_fails_is_dead_lettered(emulator: Emulator) -> None:
    _job, role = setup(emulator)
    url, arn = queue(emulator, f"extract-dlq-{uuid.uuid4().hex[:8]}")
    schedule = emulator.client("scheduler").create_schedule(
        Name=f"missing-job-{uuid.uuid4().hex[:8]}",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": TARGET,
            "RoleArn": role,
            "Input": json.dumps({"JobName": "no-such-job"}),
            "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": arn},
        },
    )["ScheduleArn"]
    answer = fire(emulator, schedule)
    assert answer["Status"] == "FAILED"
    # Refused by Glue (no such job), not by IAM: the role may start it.
    assert "AccessDenied" not in answer["Error"], answer["Error"]
    assert "no-such-job" in answer["Error"] or "EntityNotFound" in answer["Error"]
    messages = emulator.client("sqs").receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=5)[
        "Messages"
    ]
    assert json.loads(messages[0]["Body"]) == {"JobName": "no-such-job"}
    assert messages[0]["MessageAttributes"]["TARGET_ARN"]["StringValue"] == TARGET
    assert messages[0]["MessageAttributes"]["SCHEDULE_ARN"]["StringValue"] == schedule
    assert ACCOUNT in schedule
