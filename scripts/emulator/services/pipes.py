"""
EventBridge Pipes: an SQS source feeding a Step Functions target, executed.

moto 5.2.1 stores pipes (Create/Describe/List/Start/Stop/Delete) and moves their state, but a
RUNNING pipe never reads its source. Here every RUNNING pipe whose source is an SQS queue and whose
target is a state machine runs as EventBridge Pipes runs it:
  * it polls the queue with the pipe role's credentials (STS AssumeRole on the pipe's RoleArn),
    gathering up to SqsQueueParameters.BatchSize messages (default 10) for at most
    MaximumBatchingWindowInSeconds (default 0: deliver what one receive returns) after the first;
  * FilterCriteria patterns are matched with moto's own EventBridge matcher; a record no filter
    matches is deleted without delivery, as Pipes does;
  * TargetParameters.InputTemplate is applied to each record (see `render_template`: `<$.path>`
    placeholders, JSON-valued outside quotes and text inside them, the SQS body parsed as JSON
    when it is JSON, and the `<aws.pipes.…>` reserved variables);
  * the batch goes to the target as one JSON array: StartExecution for FIRE_AND_FORGET;
  * the batch's messages are deleted once the target accepted it. When it did not, they stay on
    the queue: they come back after the queue's visibility timeout (scaled by EMULATOR_SCALE, as
    the emulator scales AWS's other waits: a 302 s timeout returns them after 3 s), and moto's SQS
    moves a message received maxReceiveCount times to the redrive policy's dead-letter queue.
A creating/starting/stopping pipe settles within a poll (moto moves it only when described); a
STOPPED pipe does not poll; a pipe that is deleted stops within a poll. Not executed (logged,
and the batch is treated as failed, so it ends in the dead-letter queue): other sources and
targets, enrichment, and REQUEST_RESPONSE invocations.
Written for moto 5.2.1.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from . import LOG, assume_role, backends, client, every, queue_url, require_moto, scale

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from moto.pipes.models import EventBridgePipesBackend, Pipe

POLL_SECONDS = 0.5  # how often new, started and stopped pipes are noticed
_workers: dict[str, threading.Thread] = {}


def register() -> None:
    require_moto("pipes", "5.2.1")
    every(POLL_SECONDS, "pipes", _supervise)


# --------------------------------------------------------------------------------------------
# Input transformer
# --------------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"<(\$(?:\.[^<>]*|\[[^<>]*)?|aws\.pipes\.[a-z.-]+)>")
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")
_MISSING = object()


def json_path(document: Any, path: str) -> Any:  # any JSON value in, the value found (or _MISSING) out
    """The value at a simple JSONPath (`$`, `.name`, `[0]`, `['name']`), or _MISSING."""
    if not path.startswith("$"):
        return _MISSING
    value, rest = document, path[1:]
    while rest:
        part = _PATH_PART.match(rest)
        if not part:
            raise ValueError(f"unsupported JSONPath {path!r}: only .name, [index] and ['name'] steps are evaluated")
        name, index, quoted = part.groups()
        rest = rest[part.end() :]
        if index is not None:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        else:
            key = name if name is not None else quoted
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
    return value


def render_template(template: str, record: dict, variables: dict) -> object:
    """
    One record through a Pipes input template. A template not starting with { or [ is text: each
    value is written as its text and the result is a string. In a JSON template, outside a string a placeholder becomes the
    value as JSON (null when the path is absent); inside one it becomes the value's text (a string
    as is, anything else as its JSON), escaped for the string. The result is parsed as JSON when
    it is JSON (the target then gets that value), else passed on as text.
    """
    # Pipes parses an SQS body that is JSON, so `$.body.field` reaches into it.
    view = dict(record)
    try:
        view["body"] = json.loads(record.get("body", ""))
    except (TypeError, ValueError):
        pass

    def value_of(name: str) -> Any:
        if name.startswith("aws.pipes."):
            return variables.get(name, _MISSING)
        return json_path(view, name)

    if template.lstrip()[:1] not in ("{", "["):
        # A text template: every value is written as its text, and the target gets a string.
        def text(match: re.Match[str]) -> str:
            value = value_of(match.group(1))
            return "" if value is _MISSING or value is None else value if isinstance(value, str) else json.dumps(value)

        return _PLACEHOLDER.sub(text, template)

    out, pos, in_string = [], 0, False
    for match in _PLACEHOLDER.finditer(template):
        # Quote state up to the placeholder decides how its value is written.
        segment = template[pos : match.start()]
        in_string = _quote_state(segment, in_string)
        out.append(segment)
        value = value_of(match.group(1))
        if in_string:
            text = "" if value is _MISSING or value is None else value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])
        else:
            out.append("null" if value is _MISSING else json.dumps(value))
        pos = match.end()
    out.append(template[pos:])
    rendered = "".join(out)
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def _quote_state(text: str, in_string: bool) -> bool:
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and in_string:
            escaped = True
        elif char == '"':
            in_string = not in_string
    return in_string


# --------------------------------------------------------------------------------------------
# Polling
# --------------------------------------------------------------------------------------------
def _supervise() -> None:
    from moto.pipes.models import pipes_backends

    for _account, _region, backend in backends(pipes_backends):
        for pipe in list(backend.pipes.values()):
            # moto moves a pipe's state only when it is described (manual progression); in AWS a
            # creating, starting or stopping pipe settles on its own, so each tick moves it on.
            if pipe.status in ("CREATING", "STARTING", "STOPPING"):
                pipe.advance()
            key = f"{pipe.arn}@{pipe.creation_time.isoformat()}"
            if _polls(pipe) and not (key in _workers and _workers[key].is_alive()):
                worker = threading.Thread(target=_run, args=(backend, pipe, key), name=f"pipe-{pipe.name}", daemon=True)
                _workers[key] = worker
                worker.start()


def _polls(pipe: Pipe) -> bool:
    return pipe.desired_state == "RUNNING" and pipe.status == "RUNNING"


def _still_running(backend: EventBridgePipesBackend, pipe: Pipe) -> bool:
    return backend.pipes.get(pipe.name) is pipe and _polls(pipe)


def _run(backend: EventBridgePipesBackend, pipe: Pipe, key: str) -> None:
    try:
        source, target = pipe.source.split(":"), pipe.target.split(":")
        if source[2] != "sqs" or target[2] != "states":
            LOG.error(
                "pipe %s: only SQS sources and Step Functions targets are executed (source %s, target %s); it does not run",
                pipe.name,
                pipe.source,
                pipe.target,
            )
            while _still_running(backend, pipe):
                time.sleep(POLL_SECONDS)
            return
        session = _Session(pipe)
        while _still_running(backend, pipe):
            _poll_once(backend, pipe, session)
    except Exception:  # noqa: BLE001 - any failure is logged with its pipe; the supervisor starts a new poller
        LOG.exception("pipe %s: poller stopped; it restarts on the next supervision tick", pipe.name)
    finally:
        _workers.pop(key, None)


class _Session:
    """The pipe role's clients, renewed every quarter hour (its credentials are temporary)."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe, self.at, self.sqs, self.sfn, self.queue_url = pipe, 0.0, None, None, None

    def refresh(self) -> None:
        if self.sqs is not None and time.monotonic() - self.at < 900:
            return
        _, _, _, region, account, queue_name = self.pipe.source.split(":")
        credentials = assume_role(self.pipe.role_arn, f"pipe-{self.pipe.name}")
        self.sqs = client("sqs", account, region, credentials)
        self.sfn = client("stepfunctions", self.pipe.target.split(":")[4], self.pipe.target.split(":")[3], credentials)
        self.queue_url = queue_url(self.pipe.source)
        self.at = time.monotonic()


def _poll_once(backend: EventBridgePipesBackend, pipe: Pipe, session: _Session) -> None:
    _, _, _, region, _account, queue_name = pipe.source.split(":")
    params = (pipe.source_parameters or {}).get("SqsQueueParameters") or {}
    batch_size = int(params.get("BatchSize") or 10)
    window = int(params.get("MaximumBatchingWindowInSeconds") or 0)
    session.refresh()
    sqs, queue_url = session.sqs, session.queue_url

    batch: list[dict] = []
    deadline = None
    while _still_running(backend, pipe):
        remaining = None if deadline is None else deadline - time.monotonic()
        if batch and (len(batch) >= batch_size or remaining <= 0):
            break
        # Short long-polls, so a stopped or deleted pipe is noticed within a second.
        wait = 1 if remaining is None else max(0, min(1, math.floor(remaining)))
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, batch_size - len(batch)),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if received and deadline is None:
            deadline = time.monotonic() + window
        for message in received:
            # A queue whose visibility timeout is shorter than the window hands a message out
            # again: it stays one record, deleted by its latest receipt handle.
            batch = [m for m in batch if m["MessageId"] != message["MessageId"]] + [message]
        if not received and wait == 0:
            time.sleep(min(0.2, max(0.0, remaining or 0.0)))
    if not batch:
        return
    delivered = _deliver(pipe, region, session.sfn, batch, queue_name)
    for start in range(0, len(batch), 10):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch[start : start + 10])]
        if delivered:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        else:
            timeout = int(
                sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                    "VisibilityTimeout"
                ]
            )
            back = math.ceil(timeout * scale())
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url, Entries=[{**e, "VisibilityTimeout": back} for e in entries]
            )


def _record(message: dict, pipe: Pipe, region: str) -> dict:
    """A message as Pipes hands an SQS record on (the Lambda event-source record shape)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": pipe.source,
        "awsRegion": region,
    }


def _matches_filters(pipe: Pipe, record: dict) -> bool:
    from moto.events.models import EventPattern

    filters = ((pipe.source_parameters or {}).get("FilterCriteria") or {}).get("Filters") or []
    if not filters:
        return True
    view = dict(record)
    try:
        view["body"] = json.loads(record["body"])
    except (TypeError, ValueError):
        pass
    return any(EventPattern.load(f.get("Pattern")).matches_event(view) for f in filters)


def _deliver(pipe: Pipe, region: str, sfn: BaseClient, batch: list[dict], queue_name: str) -> bool:
    """True when the target accepted the batch (or every record was filtered out)."""
    from botocore.exceptions import BotoCoreError, ClientError

    records = [r for r in (_record(m, pipe, region) for m in batch) if _matches_filters(pipe, r)]
    if not records:
        return True
    if pipe.enrichment:
        LOG.error(
            "pipe %s: enrichment (%s) is not executed by the emulator; the batch is not delivered",
            pipe.name,
            pipe.enrichment,
        )
        return False
    target_params = pipe.target_parameters or {}
    invocation = (target_params.get("StepFunctionStateMachineParameters") or {}).get(
        "InvocationType", "REQUEST_RESPONSE"
    )
    if invocation != "FIRE_AND_FORGET":
        LOG.error(
            "pipe %s: invocation type %s is not executed by the emulator (only FIRE_AND_FORGET); the batch is not delivered",
            pipe.name,
            invocation,
        )
        return False
    template = target_params.get("InputTemplate")
    ingestion = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = []
    for record in records:
        if template is None:
            payload.append(record)
            continue
        variables = {
            "aws.pipes.pipe-arn": pipe.arn,
            "aws.pipes.pipe-name": pipe.name,
            "aws.pipes.source-arn": pipe.source,
            "aws.pipes.target-arn": pipe.target,
            "aws.pipes.event.ingestion-time": ingestion,
            "aws.pipes.event": record,
            "aws.pipes.event.json": json.dumps(record),
        }
        payload.append(render_template(template, record, variables))
    try:
        execution = sfn.start_execution(stateMachineArn=pipe.target, name=str(uuid.uuid4()), input=json.dumps(payload))
    except (BotoCoreError, ClientError) as error:  # the pipe's failure path: the messages return and redrive
        LOG.error(
            "pipe %s: %d record(s) from %s not delivered to %s: %s",
            pipe.name,
            len(records),
            queue_name,
            pipe.target,
            error,
        )
        return False
    LOG.info("pipe %s: %d record(s) started %s", pipe.name, len(records), execution["executionArn"])
    return True
