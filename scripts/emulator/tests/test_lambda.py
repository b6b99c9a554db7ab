"""Lambda invocations and EventBridge Scheduler schedules, executed by the emulator in Node."""

from __future__ import annotations

import datetime as dt
import io
import json
import urllib.request
import uuid
import zipfile
from typing import TYPE_CHECKING

import pytest

from conftest import ACCOUNT, wait_for
from services.scheduler import next_fire

if TYPE_CHECKING:
    from conftest import Emulator

HANDLER = r"""
import { getHeapStatistics } from "node:v8";
export const handler = async (event, context) => {
  console.log("got", JSON.stringify(event));
  if (event.fail) throw new TypeError(`asked to fail: ${event.fail}`);
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep * 1000));
  return {
    event,
    greeting: process.env.GREETING,
    keyPrefix: (process.env.AWS_ACCESS_KEY_ID || "").slice(0, 4),
    hasSession: Boolean(process.env.AWS_SESSION_TOKEN),
    endpoint: process.env.AWS_ENDPOINT_URL,
    pathStyle: process.env.S3_FORCE_PATH_STYLE,
    region: process.env.AWS_REGION,
    functionName: context.functionName,
    requestId: context.awsRequestId,
    arn: context.invokedFunctionArn,
    memory: context.memoryLimitInMB,
    remainingMs: context.getRemainingTimeInMillis(),
    heapLimitMb: getHeapStatistics().heap_size_limit / 1048576,
  };
};
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture()
def function(emulator: Emulator) -> dict[str, str]:
    """A Node function (index.handler in index.mjs) with a role, a timeout of 3 s and 256 MB."""
    iam, awslambda = emulator.client("iam"), emulator.client("lambda")
    suffix = uuid.uuid4().hex[:8]
    role = iam.create_role(
        RoleName=f"fn-{suffix}",
        # The schedule tests use it as the schedules' target role too, so Scheduler may assume it as well.
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "scheduler.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    name = f"fn-{suffix}"
    # What the function's role needs (IAM is enforced): its log group, its destination queues.
    iam.put_role_policy(
        RoleName=name,
        PolicyName="run",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/{name}:*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "sqs:SendMessage",
                        "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:*-{suffix}",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*",
                    },
                ],
            }
        ),
    )
    awslambda.create_function(
        FunctionName=name,
        Runtime="nodejs22.x",
        Role=role,
        Handler="index.handler",
        Timeout=3,
        MemorySize=256,
        Code={"ZipFile": zipped({"index.mjs": HANDLER})},
        Environment={"Variables": {"GREETING": "hello"}},
    )
    return {"name": name, "role": role, "suffix": suffix}


def invoke(emulator: Emulator, name: str, event: dict) -> tuple[dict, dict]:
    answer = emulator.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return answer, json.loads(answer["Payload"].read())


def queue(emulator: Emulator, name: str) -> tuple[str, str]:
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive(emulator: Emulator, url: str, timeout: float = 90) -> dict:
    sqs = emulator.client("sqs")
    [message] = wait_for(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages"),
        timeout=timeout,
        what=f"a message on {url}",
    )
    return message


def test_request_response_runs_the_handler_with_its_environment_role_and_context(
    emulator: Emulator, function: dict[str, str]
) -> None:
    answer, result = invoke(emulator, function["name"], {"n": 1})
    assert "FunctionError" not in answer
    assert result["event"] == {"n": 1}
    assert result["greeting"] == "hello"
    assert result["keyPrefix"] == "ASIA" and result["hasSession"]  # the role's temporary credentials
    assert result["endpoint"] == emulator.endpoint and result["pathStyle"] == "true"
    assert (result["region"], result["functionName"], result["memory"]) == ("us-east-1", function["name"], "256")
    assert result["arn"].endswith(f":function:{function['name']}")
    assert 0 < result["remainingMs"] <= 3000
    assert 256 <= result["heapLimitMb"] < 256 * 1.3  # MemorySize caps the heap
    import base64

    tail = base64.b64decode(answer["LogResult"]).decode()
    assert f"START RequestId: {result['requestId']}" in tail and 'got {"n":1}' in tail and "REPORT RequestId" in tail


def test_a_thrown_error_is_an_unhandled_function_error_and_the_logs_reach_the_log_group(
    emulator: Emulator, function: dict[str, str]
) -> None:
    answer, result = invoke(emulator, function["name"], {"fail": "bad input"})
    assert answer["FunctionError"] == "Unhandled"
    assert result["errorType"] == "TypeError" and result["errorMessage"] == "asked to fail: bad input"
    assert result["stackTrace"]
    logs = emulator.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{function['name']}")["logStreams"]
    messages = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName=f"/aws/lambda/{function['name']}", logStreamName=s["logStreamName"])[
            "events"
        ]
    ]
    assert any("asked to fail: bad input" in m for m in messages)


def test_a_run_past_its_timeout_is_killed_and_fails_as_timed_out(emulator: Emulator, function: dict[str, str]) -> None:
    emulator.client("lambda").update_function_configuration(FunctionName=function["name"], Timeout=1)
    # A handler left to finish would answer after 20 s with its result; it is killed instead.
    answer, result = invoke(emulator, function["name"], {"sleep": 20})
    assert answer["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert result["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_an_async_failure_is_retried_then_its_record_goes_to_the_on_failure_destination(
    emulator: Emulator, function: dict[str, str]
) -> None:
    url, arn = queue(emulator, f"failures-{function['suffix']}")
    awslambda = emulator.client("lambda")
    awslambda.put_function_event_invoke_config(
        FunctionName=function["name"],
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    answer = awslambda.invoke(
        FunctionName=function["name"], InvocationType="Event", Payload=json.dumps({"fail": "always"}).encode()
    )
    assert answer["StatusCode"] == 202
    record = json.loads(receive(emulator, url)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # the first try and one retry
    assert record["requestPayload"] == {"fail": "always"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "asked to fail: always"


def test_a_schedule_fired_now_invokes_its_function_with_the_schedule_input(
    emulator: Emulator, function: dict[str, str]
) -> None:
    url, arn = queue(emulator, f"successes-{function['suffix']}")
    emulator.client("lambda").put_function_event_invoke_config(
        FunctionName=function["name"], DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    fn_arn = emulator.client("lambda").get_function(FunctionName=function["name"])["Configuration"]["FunctionArn"]
    schedule = emulator.client("scheduler").create_schedule(
        Name=f"hourly-{function['suffix']}",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": fn_arn, "RoleArn": function["role"], "Input": '{"from": "schedule"}'},
    )["ScheduleArn"]
    request = urllib.request.Request(
        f"{emulator.endpoint}/_emulator/scheduler/fire",
        data=json.dumps({"ScheduleArn": schedule}).encode(),
        method="POST",
    )
    import ssl

    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=emulator.ca_bundle)) as response:
        assert json.loads(response.read())["Status"] == "INVOKED"
    record = json.loads(receive(emulator, url)["Body"])
    assert record["requestPayload"] == {"from": "schedule"}
    assert record["responsePayload"]["event"] == {"from": "schedule"}


def test_a_schedule_fires_on_its_own_when_due(emulator: Emulator, function: dict[str, str]) -> None:
    url, arn = queue(emulator, f"due-{function['suffix']}")
    emulator.client("lambda").put_function_event_invoke_config(
        FunctionName=function["name"], DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    fn_arn = emulator.client("lambda").get_function(FunctionName=function["name"])["Configuration"]["FunctionArn"]
    when = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S")
    emulator.client("scheduler").create_schedule(
        Name=f"once-{function['suffix']}",
        ScheduleExpression=f"at({when})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": fn_arn, "RoleArn": function["role"], "Input": '{"at": true}'},
    )
    record = json.loads(receive(emulator, url)["Body"])
    assert record["requestPayload"] == {"at": True}


def test_a_schedule_whose_target_cannot_be_invoked_dead_letters_its_input(
    emulator: Emulator, function: dict[str, str]
) -> None:
    url, arn = queue(emulator, f"sched-dlq-{function['suffix']}")
    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:no-such-function"
    schedule = emulator.client("scheduler").create_schedule(
        Name=f"broken-{function['suffix']}",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": missing,
            "RoleArn": function["role"],
            "Input": '{"lost": 1}',
            "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": arn},
        },
    )["ScheduleArn"]
    request = urllib.request.Request(
        f"{emulator.endpoint}/_emulator/scheduler/fire",
        data=json.dumps({"ScheduleArn": schedule}).encode(),
        method="POST",
    )
    import ssl

    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=emulator.ca_bundle)) as response:
        assert json.loads(response.read())["Status"] == "FAILED"
    message = receive(emulator, url)
    assert json.loads(message["Body"]) == {"lost": 1}
    assert message["MessageAttributes"]["TARGET_ARN"]["StringValue"] == missing
    assert message["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] == "1"


def test_schedule_expressions() -> None:
    utc = dt.timezone.utc
    t = dt.datetime(2024, 5, 1, 10, 15, 30, tzinfo=utc)
    anchor = dt.datetime(2024, 5, 1, 10, 0, tzinfo=utc)
    assert next_fire("rate(1 hour)", t, anchor=anchor) == dt.datetime(2024, 5, 1, 11, 0, tzinfo=utc)
    assert next_fire("rate(5 minutes)", t, anchor=anchor) == dt.datetime(2024, 5, 1, 10, 20, tzinfo=utc)
    assert next_fire("cron(0 3 * * ? *)", t) == dt.datetime(2024, 5, 2, 3, 0, tzinfo=utc)
    assert next_fire("cron(0/15 * * * ? *)", t) == dt.datetime(2024, 5, 1, 10, 30, tzinfo=utc)
    # 2024-05-01 is a Wednesday; day-of-week 2 is Monday.
    assert next_fire("cron(30 8 ? * 2 *)", t) == dt.datetime(2024, 5, 6, 8, 30, tzinfo=utc)
    assert next_fire("cron(0 9 1 JAN-MAR ? 2025)", t) == dt.datetime(2025, 1, 1, 9, 0, tzinfo=utc)
    assert next_fire("cron(0 9 * * ? *)", t, "Europe/Paris") == dt.datetime(2024, 5, 2, 7, 0, tzinfo=utc)
    assert next_fire("at(2024-05-01T12:00:00)", t) == dt.datetime(2024, 5, 1, 12, 0, tzinfo=utc)
    assert next_fire("at(2024-05-01T09:00:00)", t) is None
    with pytest.raises(ValueError, match="L, W and #"):
        next_fire("cron(0 9 L * ? *)", t)
