"""Step Functions RedriveExecution in the emulator: which executions are redrivable, and where a redrive continues."""

from __future__ import annotations

import json
import ssl
import urllib.request
import uuid
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from conftest import wait_for

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from conftest import Emulator


@pytest.fixture(scope="module")
def sfn(emulator: Emulator) -> BaseClient:
    # Redrive continues a run, so moto must run the executions (the platform's tests and local cloud do).
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=emulator.ca_bundle)).read()
    return emulator.client("stepfunctions")


def machine(sfn: BaseClient, states: dict, start: str) -> str:
    return sfn.create_state_machine(
        name=f"redrive-{uuid.uuid4().hex[:8]}",
        roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": start, "States": states}),
    )["stateMachineArn"]


def finished(sfn: BaseClient, arn: str) -> dict:
    return wait_for(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, what=f"{arn} to finish"
    )


def entered(sfn: BaseClient, arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def read_task(bucket: str, **extra) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": bucket, "Key": "in.json"},
        "ResultSelector": {"read.$": "$.ContentLength"},
        **extra,
    }


def test_a_failed_execution_continues_at_the_failed_step_with_its_input_and_keeps_its_arn(
    emulator: Emulator, sfn: BaseClient
) -> None:
    bucket = f"redrive-{uuid.uuid4().hex[:8]}"
    arn = machine(
        sfn,
        {
            "Before": {"Type": "Pass", "Result": {"step": 1}, "ResultPath": "$.before", "Next": "Read"},
            "Read": read_task(bucket, ResultPath="$.read", End=True),
        },
        "Before",
    )
    execution = sfn.start_execution(stateMachineArn=arn, name="landing-1", input=json.dumps({"key": "a"}))[
        "executionArn"
    ]
    failed = finished(sfn, execution)
    assert failed["status"] == "FAILED", failed
    assert failed["redriveCount"] == 0 and failed["redriveStatus"] == "REDRIVABLE" and "redriveDate" not in failed

    # The cause fixed: the object the step reads now exists.
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in.json", Body=b"{}")
    answer = sfn.redrive_execution(executionArn=execution)
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    assert done["executionArn"] == execution and json.loads(done["input"]) == {"key": "a"}
    # The step got the input it had in the failed attempt (the Pass state's result in it); the Pass state did not run again.
    assert json.loads(done["output"]) == {"key": "a", "before": {"step": 1}, "read": {"read": 2}}
    assert entered(sfn, execution) == ["Before", "Read", "Read"]
    assert done["redriveCount"] == 1 and done["redriveDate"] == answer["redriveDate"]
    assert (
        done["redriveStatus"] == "NOT_REDRIVABLE"
        and done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven."
    )
    types = [e["type"] for e in sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]]
    assert types.index("ExecutionFailed") < types.index("ExecutionRedriven") < types.index("ExecutionSucceeded")
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["landing-1"]


def test_an_error_a_catch_handled_is_not_the_unsuccessful_step_the_fail_state_it_led_to_is(sfn: BaseClient) -> None:
    bucket = f"redrive-{uuid.uuid4().hex[:8]}"
    arn = machine(
        sfn,
        {
            "Read": read_task(
                bucket, Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed"}], End=True
            ),
            "Failed": {"Type": "Fail", "Error": "PipelineFailed"},
        },
        "Read",
    )
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert finished(sfn, execution)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=execution)
    again = finished(sfn, execution)
    assert again["status"] == "FAILED" and again["error"] == "PipelineFailed" and again["redriveCount"] == 1
    assert entered(sfn, execution) == ["Read", "Failed", "Failed"]


def test_what_cannot_be_redriven_is_refused_with_the_services_errors(sfn: BaseClient) -> None:
    arn = machine(sfn, {"Done": {"Type": "Succeed"}}, "Done")
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as refused:
        sfn.redrive_execution(executionArn=execution)
    assert refused.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert "Execution is SUCCEEDED and cannot be redriven." in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        sfn.redrive_execution(executionArn=execution.rsplit(":", 1)[0] + ":nonexistent")
    assert missing.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_the_same_client_token_answers_the_same_redrive(sfn: BaseClient) -> None:
    arn = machine(
        sfn,
        {"Wait": {"Type": "Wait", "Seconds": 2, "Next": "Failed"}, "Failed": {"Type": "Fail", "Error": "Boom"}},
        "Wait",
    )
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert finished(sfn, execution)["status"] == "FAILED"
    first = sfn.redrive_execution(executionArn=execution, clientToken="operator-1")["redriveDate"]
    assert sfn.redrive_execution(executionArn=execution, clientToken="operator-1")["redriveDate"] == first
    assert finished(sfn, execution)["redriveCount"] == 1
