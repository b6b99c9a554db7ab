"""EventBridge rules deliver matching events to SNS topic targets (and on to their subscriptions)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from conftest import wait_for

if TYPE_CHECKING:
    from conftest import Emulator


def test_a_rule_with_an_sns_target_delivers_and_put_events_succeeds(emulator: Emulator) -> None:
    events, sns, sqs = emulator.client("events"), emulator.client("sns"), emulator.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    topic = sns.create_topic(Name=f"pipeline-events-{suffix}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"subscriber-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    events.put_rule(
        Name=f"succeeded-{suffix}",
        EventPattern=json.dumps({"source": [f"test.{suffix}"], "detail-type": ["Pipeline Succeeded"]}),
    )
    events.put_targets(Rule=f"succeeded-{suffix}", Targets=[{"Id": "topic", "Arn": topic}])

    result = events.put_events(
        Entries=[
            {
                "Source": f"test.{suffix}",
                "DetailType": "Pipeline Succeeded",
                "Detail": json.dumps({"dataset": "d", "n": 1}),
            },
            {"Source": f"test.{suffix}", "DetailType": "Pipeline Failed", "Detail": json.dumps({"dataset": "d"})},
        ]
    )
    assert result["FailedEntryCount"] == 0

    messages: list = []

    def received() -> bool:
        messages.extend(
            sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        )
        return bool(messages)

    wait_for(received, timeout=30, what="the event in the topic's subscriber queue")
    bodies = [json.loads(m["Body"]) for m in messages]
    assert [(b["detail-type"], b["detail"]) for b in bodies] == [("Pipeline Succeeded", {"dataset": "d", "n": 1})]
