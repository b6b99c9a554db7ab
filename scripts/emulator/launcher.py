"""
The project's AWS emulator: moto's server, over TLS, with the gaps the platform meets filled here.

Started by scripts/emulator/index.ts (never by hand in tests). Protocol:
  * argv: --port N (0 = pick a free loopback port), --state-dir DIR (TLS material lives there),
    --detached (no parent watch: the local cloud of `npm run local:up` outlives the command)
  * prints ONE line of JSON on stdout when ready: {"endpoint", "port", "caBundle", "pid", "insecureEndpoint"}
  * stops on SIGTERM/SIGINT, and when stdin closes: if the parent process dies, so does the
    emulator — a crashed test run never leaves a server behind.

Gaps filled:
  * Step Functions ValidateStateMachineDefinition is not implemented in moto; without it the AWS
    provider retries for minutes. Here it checks the definition's structure (JSON object, StartAt
    naming an existing state, every Next/Default/Catch target defined) and returns OK or FAIL
    diagnostics, like the service.
  * Multi-account: an access key AKIA<account>EMUL acts as that 12-digit account, so one server
    can host dev/staging/prod plans, each with its real allowed_account_ids.
  * Step Functions executions: after the first execution on a server, moto 5.2.1 fails later
    StartExecution calls with "cannot pickle '_thread.RLock' object": it deep-copies the state
    machine including its past executions, which hold thread locks. Past executions are now
    shared, not copied. An execution started without a name gets a generated one (moto used
    the literal name "None", so a second nameless start failed with ExecutionAlreadyExists).
  * S3 bucket policies: moto evaluates only StringEquals conditions and treats every other
    condition as matched, so any Deny statement with a condition (our TLS-only and right-key-only
    rules) denies every object request, over TLS or not. Bucket policies are evaluated here with
    the request's real context — aws:SecureTransport from the connection, the SSE headers — and
    the operators the platform uses (Bool, Null, String*, Arn*, with IfExists), Deny winning.
  * S3 PutBucketLogging crashes (HTTP 500, which the provider retries for minutes) when the target
    bucket's policy has a statement with `"Principal": "*"` (our TLS-only deny): moto reads every
    principal as a dict. The policy check is re-implemented to accept any principal form.
  * EC2 security group rules that reference a group or a prefix list lose their description in
    DescribeSecurityGroupRules, so every plan updates them again. The description is returned.
  * Attributes moto accepts but does not return, each of which made every plan show an update:
    Glue GetConnection drops ConnectionType; Lambda GetFunction drops KMSKeyArn and
    LoggingConfig; Kinesis CreateStream ignores its Tags. They are returned (and stored).
  * DynamoDB ExportTableToPointInTime names its data files `<uuid>.gz`; AWS names them
    `<id>.json.gz`, which is what the export-based extract reads. They are named as AWS does.
  * DynamoDB exports at a point in time and incremental exports (moto ignores ExportTime and
    IncrementalExportSpecification and writes no manifests): services/dynamodb_exports.py, which
    now answers every ExportTableToPointInTime (so the renaming above no longer comes into play).
  * S3 GetBucketNotificationConfiguration leaves out EventBridgeConfiguration, so terraform sees
    `eventbridge = false` after every apply and plans the same change forever. It is returned.
  * Step Functions service integrations (glue:startJobRun.sync, sns:publish, ...) call back into
    moto at http://localhost:$MOTO_PORT. Clients only ever get the TLS port; a second, plain-HTTP
    listener on loopback serves those internal callbacks.
  * Step Functions `.sync` integrations without a task-token pattern (glue:startJobRun.sync) always
    fail in moto 5.2.1 with "'NoneType' object has no attribute 'interrupt_all'": the task cleans
    up a callback endpoint it never created. The cleanup is skipped when there is none.
  * Step Functions ListStateMachineVersions is not implemented (HTTP 500); the provider calls it
    after creating every aws_sfn_state_machine and retries the 500 for many minutes. It lists the
    versions moto keeps (those `publish` created).
  * SQS SetQueueAttributes without a Policy attribute erased the queue's policy (moto resets it on
    every call), so a redrive-allow policy applied after a queue policy removed it, and the provider
    waited forever for the policy to reappear. Attributes not named keep their values.
  * SQS accepts a RedriveAllowPolicy but never returns it (and refuses it as an attribute name), so
    the provider waits forever for aws_sqs_queue_redrive_allow_policy to appear. It is returned. A
    RedrivePolicy comes back as compact JSON, as from SQS (moto's spacing made every plan rewrite it).
  * SQS StartMessageMoveTask and ListMessageMoveTasks (the DLQ redrive the operator guide
    documents) are missing. Here a task moves every message of a dead-letter queue to the given
    destination (or to the DLQ's only source queue) at once, and is listed as COMPLETED; a queue
    that is no queue's DLQ is refused as AWS refuses it.
  * An execution whose output holds a timestamp (e.g. the context object's Execution.StartTime,
    which moto keeps as a datetime where AWS gives an ISO-8601 string) made DescribeExecution fail
    with HTTP 500; the output is serialized with ISO-8601 timestamps when the execution ends.
  * EventBridge TestEventPattern is a stub returning nothing; here it evaluates the pattern with the
    same matcher moto routes events with, and refuses an event without the fields AWS requires.
  * EventBridge rules cannot target a state machine (moto raises NotImplementedError, which also
    stops delivery to the rules after it); here a matching event starts an execution with the
    event as its input, as EventBridge does.
  * A Glue crawl in moto only moves on when it is listed (ListCrawls), so a caller polling
    GetCrawler, as Glue's own documentation and our pipelines do, waits forever; and a finished
    crawl's LastCrawl.Status reads COMPLETED where Glue says SUCCEEDED | CANCELLED | FAILED. Here
    each GetCrawler moves the running crawl on, as ListCrawls does, and reports SUCCEEDED.

Services moto only stores are executed by the modules under services/ (each docstring says how).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import fnmatch
import ipaddress
import json
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services import glue_jobs

if TYPE_CHECKING:
    from wsgiref.types import InputStream

    from cheroot.wsgi import Server
    from moto.core.common_types import TYPE_RESPONSE
    from moto.core.responses import ActionResult
    from moto.events.utils import EventMessageType
    from moto.s3.models import FakeKey, S3Backend
    from moto.sqs.models import Queue, SQSBackend
    from moto.stepfunctions.parser.backend.execution import Execution

# A WSGI application: (environ, start_response) → the response body's chunks.
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]

# Access keys of the form AKIA<12-digit account>EMUL act as that account (20 characters, as moto expects).
ACCOUNT_KEY = re.compile(r"^AKIA(\d{12})EMUL$")


# --------------------------------------------------------------------------------------------
# TLS material: a local CA and a server certificate for 127.0.0.1/localhost, signed by it.
# --------------------------------------------------------------------------------------------
def ensure_tls(state_dir: Path) -> tuple[Path, Path, Path]:
    tls = state_dir / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    # Emulators starting at once in one state directory (parallel test workers) must not each write
    # a CA of their own: one would serve a certificate the shared bundle no longer trusts.
    with (tls / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_tls_locked(tls)


def _ensure_tls_locked(tls: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_file, cert_file, key_file, bundle = (
        tls / "ca.pem",
        tls / "server.pem",
        tls / "server-key.pem",
        tls / "ca-bundle.pem",
    )
    now = dt.datetime.now(dt.timezone.utc)
    if cert_file.exists() and key_file.exists() and ca_file.exists() and bundle.exists():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        if cert.not_valid_after_utc > now + dt.timedelta(days=1):
            return cert_file, key_file, bundle

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dataplat local emulator CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
    # Clients get the system CAs plus ours, so the same bundle works for real endpoints too.
    system = ""
    for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if os.path.exists(candidate):
            system = Path(candidate).read_text()
            break
    bundle.write_text(system + "\n" + ca.public_bytes(pem).decode())
    return cert_file, key_file, bundle


# --------------------------------------------------------------------------------------------
# Gap fillers
# --------------------------------------------------------------------------------------------
def _definition_diagnostics(definition: str) -> list[dict]:
    def diag(code: str, message: str, location: str = "/") -> dict:
        return {"severity": "ERROR", "code": code, "message": message, "location": location}

    try:
        doc = json.loads(definition)
    except (TypeError, ValueError) as error:
        return [diag("INVALID_JSON_DESCRIPTION", f"definition is not valid JSON: {error}")]
    if not isinstance(doc, dict):
        return [diag("SCHEMA_VALIDATION_FAILED", "definition must be a JSON object")]
    states = doc.get("States")
    if not isinstance(states, dict) or not states:
        return [diag("SCHEMA_VALIDATION_FAILED", "States must be a non-empty object", "/States")]
    problems = []
    if doc.get("StartAt") not in states:
        problems.append(diag("MISSING_TRANSITION_TARGET", f"StartAt {doc.get('StartAt')!r} is not a state", "/StartAt"))

    def targets(state: dict) -> Iterator[str | None]:
        yield state.get("Next")
        yield state.get("Default")
        for choice in state.get("Choices", []) or []:
            yield choice.get("Next")
        for catcher in state.get("Catch", []) or []:
            yield catcher.get("Next")

    for name, state in states.items():
        if not isinstance(state, dict) or "Type" not in state:
            problems.append(diag("SCHEMA_VALIDATION_FAILED", f"state {name!r} has no Type", f"/States/{name}"))
            continue
        for target in targets(state):
            if target is not None and target not in states:
                problems.append(
                    diag("MISSING_TRANSITION_TARGET", f"state {name!r} goes to undefined {target!r}", f"/States/{name}")
                )
    return problems


def fill_gaps() -> None:
    from moto.core.responses import ActionResult
    from moto.iam import models as iam_models
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
        problems = _definition_diagnostics(self._get_param("definition"))
        return ActionResult({"result": "FAIL" if problems else "OK", "diagnostics": problems, "truncated": False})

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition

    original = iam_models.get_account_id_from

    def get_account_id_from(access_key: str) -> str:
        match = ACCOUNT_KEY.match(access_key or "")
        return match.group(1) if match else original(access_key)

    iam_models.get_account_id_from = get_account_id_from

    _fix_repeated_executions()
    _fix_eventbridge_notification()
    _fix_logging_policy_check()
    _fix_bucket_policy_evaluation()
    _fix_security_group_rule_description()
    _fix_dropped_attributes()
    _fix_dynamodb_export_names()
    _fix_sync_without_callback()
    _fix_execution_output_timestamps()
    _fix_list_state_machine_versions()
    _fix_redrive_allow_policy()
    _fix_message_move_tasks()
    _fix_test_event_pattern()
    _fix_state_machine_targets()
    _fix_last_crawl_status()

    # Services moto only stores, executed (scripts/emulator/services/: one module, one call each).
    from services import (
        athena,
        awslambda,
        crawlers,
        events_targets,
        firehose,
        pipes,
        s3_listing,
        scheduler,
        stepfunctions_redrive,
    )

    s3_listing.register()
    events_targets.register()
    stepfunctions_redrive.register()
    pipes.register()
    awslambda.register()
    scheduler.register()
    crawlers.register()
    firehose.register()
    athena.register()
    from services import dynamodb_exports

    dynamodb_exports.install()


def _fix_repeated_executions() -> None:
    import copy
    import uuid

    from moto.stepfunctions.models import StateMachineInstance
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def __deepcopy__(self: StateMachineInstance, memo: dict[int, object]) -> StateMachineInstance:
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            # Executions hold running threads; a clone for a new run needs none of them copied.
            setattr(clone, key, value if key == "executions" else copy.deepcopy(value, memo))
        return clone

    StateMachineInstance.__deepcopy__ = __deepcopy__

    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: StepFunctionsParserBackend, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any
    ) -> Execution:
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution


def _fix_sync_without_callback() -> None:
    import inspect
    import textwrap

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as module,
    )

    cls = module.StateTaskServiceCallback
    source = textwrap.dedent(inspect.getsource(cls._eval_integration_pattern))
    broken = "callback_endpoint.interrupt_all()"
    if source.count(broken) != 1:
        raise SystemExit("emulator: moto's Step Functions .sync code changed; revisit _fix_sync_without_callback")
    fixed = source.replace(broken, "if callback_endpoint is not None: callback_endpoint.interrupt_all()")
    namespace: dict = {}
    exec(compile(fixed, module.__file__, "exec"), module.__dict__, namespace)  # moto's own method, one line changed
    cls._eval_integration_pattern = namespace["_eval_integration_pattern"]


def _fix_redrive_allow_policy() -> None:
    from moto.sqs.models import Queue, SQSBackend

    Queue.redrive_allow_policy = None  # set by _set_attributes("RedriveAllowPolicy"), never read back by moto
    set_attributes = Queue._set_attributes

    def _set_attributes(self: Queue, attributes: dict[str, Any], now: float | None = None) -> None:
        policy = getattr(self, "policy", None)
        set_attributes(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = policy  # moto resets it on every call

    Queue._set_attributes = _set_attributes
    base = Queue.attributes.fget

    def attributes(self: Queue) -> dict[str, Any]:
        result = base(self)
        if self.redrive_policy:
            # SQS answers with compact JSON; moto's spaced JSON made every plan rewrite redrive_policy.
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        if self.redrive_allow_policy:
            result["RedriveAllowPolicy"] = self.redrive_allow_policy
        return result

    Queue.attributes = property(attributes)
    original = SQSBackend.get_queue_attributes

    def get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        names = list(attribute_names or [])
        others = [n for n in names if n != "RedriveAllowPolicy"]
        result = original(self, queue_name, others) if others else {}
        value = self.get_queue(queue_name).redrive_allow_policy
        if value and ("RedriveAllowPolicy" in names or "All" in names):
            result["RedriveAllowPolicy"] = value
        return result

    SQSBackend.get_queue_attributes = get_queue_attributes


def _fix_message_move_tasks() -> None:
    import time
    import uuid

    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.sqs.responses import SQSResponse

    tasks: dict[str, list[dict]] = {}

    def queue_by_arn(backend: SQSBackend, arn: str) -> Queue:
        for queue in backend.queues.values():
            if queue.queue_arn == arn:
                return queue
        raise JsonRESTError(
            "ResourceNotFoundException",
            f"The resource that you specified for the SourceArn parameter doesn't exist: {arn}",
        )

    def start_message_move_task(self: SQSResponse) -> ActionResult:
        backend = self.sqs_backend
        source = queue_by_arn(backend, self._get_param("SourceArn"))
        sources = [
            q
            for q in backend.queues.values()
            if q.redrive_policy and q.redrive_policy.get("deadLetterTargetArn") == source.queue_arn
        ]
        if not sources:
            raise JsonRESTError("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        destination_arn = self._get_param("DestinationArn")
        if destination_arn is None and len(sources) != 1:
            raise JsonRESTError(
                "InvalidParameterValue",
                "DestinationArn is required when the dead-letter queue has more than one source queue.",
            )
        destination = queue_by_arn(backend, destination_arn) if destination_arn else sources[0]
        with source._messages_lock:
            messages = list(source._messages)
            for message in messages:
                source._messages.remove(message)
        for message in messages:
            backend.send_message(destination.name, message.body, message_attributes=message.message_attributes)
        handle = str(uuid.uuid4())
        tasks.setdefault(source.queue_arn, []).insert(
            0,
            {
                "TaskHandle": handle,
                "Status": "COMPLETED",
                "SourceArn": source.queue_arn,
                "DestinationArn": destination.queue_arn,
                "ApproximateNumberOfMessagesMoved": len(messages),
                "ApproximateNumberOfMessagesToMove": len(messages),
                "StartedTimestamp": int(time.time() * 1000),
            },
        )
        return ActionResult({"TaskHandle": handle})

    def list_message_move_tasks(self: SQSResponse) -> ActionResult:
        source = queue_by_arn(self.sqs_backend, self._get_param("SourceArn"))
        return ActionResult({"Results": tasks.get(source.queue_arn, [])[: int(self._get_param("MaxResults") or 1)]})

    SQSResponse.start_message_move_task = start_message_move_task
    SQSResponse.list_message_move_tasks = list_message_move_tasks


def _fix_list_state_machine_versions() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = sorted(getattr(machine, "versions", {}).values(), key=lambda v: v.version, reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions
                ]
            }
        )

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions


def _fix_execution_output_timestamps() -> None:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    def iso(value: object) -> str:
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    original = BaseExecutionWorkerCommunication._reflect_execution_status

    def reflect_execution_status(self: BaseExecutionWorkerCommunication) -> None:
        original(self)
        output = self.execution.output
        if output is not None and not isinstance(output, str):
            self.execution.output = json.dumps(output, default=iso)

    BaseExecutionWorkerCommunication._reflect_execution_status = reflect_execution_status


# Fields TestEventPattern requires of the event (the service answers ValidationException otherwise).
EVENT_REQUIRED_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


def _fix_test_event_pattern() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.events.models import EventPattern
    from moto.events.responses import EventsHandler

    def test_event_pattern(self: EventsHandler) -> str:
        try:
            event = json.loads(self._get_param("Event"))
        except (TypeError, ValueError):
            raise JsonRESTError("ValidationException", "Parameter Event is not valid.")
        if not isinstance(event, dict) or any(field not in event for field in EVENT_REQUIRED_FIELDS):
            raise JsonRESTError("ValidationException", "Parameter Event is not valid.")
        pattern = EventPattern.load(self._get_param("EventPattern"))
        return json.dumps({"Result": pattern.matches_event(event)})

    EventsHandler.test_event_pattern = test_event_pattern


def _fix_state_machine_targets() -> None:
    import logging
    import uuid

    from moto.events.models import Rule
    from moto.stepfunctions.responses import get_backend

    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: EventMessageType, transform_input: bool = True) -> None:
        machines = [t for t in self.targets if t["Arn"].split(":")[2] == "states"]
        if not machines:
            return original(self, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):
            return None
        event = json.loads(json.dumps(original_event, default=str))
        if isinstance(event.get("time"), (int, float)):
            event["time"] = dt.datetime.fromtimestamp(event["time"], dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for target in machines:
            _, _, _, region, account, *_ = target["Arn"].split(":")
            try:
                get_backend(account, region).start_execution(target["Arn"], str(uuid.uuid4()), json.dumps(event))
            except Exception:  # delivery is asynchronous in AWS: a failed start never fails the sender (logged)
                logging.getLogger("emulator").exception("rule %s could not start %s", self.name, target["Arn"])
        others = [t for t in self.targets if t not in machines]
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved
        return None

    Rule.send_to_targets = send_to_targets


def _fix_last_crawl_status() -> None:
    from moto.glue.models import FakeCrawler

    original = FakeCrawler.as_dict

    def as_dict(self: FakeCrawler) -> dict:
        if self.crawls:
            self.crawls[-1].advance()
        data = original(self)
        last = data.get("LastCrawl")
        if last and last.get("Status") == "COMPLETED":
            last["Status"] = "SUCCEEDED"
        return data

    FakeCrawler.as_dict = as_dict


def _fix_logging_policy_check() -> None:
    from moto.s3.models import FakeBucket

    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    def _log_permissions_enabled_policy(target_bucket: FakeBucket, target_prefix: str | None) -> bool:
        if not target_bucket.policy:
            return False
        arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
        allowed = {arn, f"{arn}/*", f"{arn}/{target_prefix or ''}*"}
        for stmt in json.loads(target_bucket.policy.decode())["Statement"]:
            principal = stmt.get("Principal")
            services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
            if (
                stmt.get("Effect") == "Allow"
                and "logging.s3.amazonaws.com" in services
                and "s3:PutObject" in as_list(stmt.get("Action", []))
                and allowed.intersection(as_list(stmt.get("Resource", [])))
            ):
                return True
        return False

    FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)


REQUEST = threading.local()


def _capture_request_context(app: WsgiApp) -> WsgiApp:
    """WSGI middleware: remember what bucket policies may test about the current request."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        REQUEST.context = {
            "aws:SecureTransport": "true" if environ.get("wsgi.url_scheme") == "https" else "false",
            "s3:x-amz-server-side-encryption": environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION"),
            "s3:x-amz-server-side-encryption-aws-kms-key-id": environ.get(
                "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID"
            ),
        }
        return app(environ, start_response)

    return wrapped


def _matches(pattern: str, value: str) -> bool:

    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _condition_holds(operator: str, key: str, expected: Any, context: dict) -> bool:
    expected_values = [
        str(v).lower() if isinstance(v, bool) else str(v)
        for v in (expected if isinstance(expected, list) else [expected])
    ]
    actual = context.get(key.lower()) if key.lower() in context else context.get(key)
    if operator == "Null":
        return (actual is None) == (expected_values[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    op = operator[: -len("IfExists")] if if_exists else operator
    if actual is None:
        # A missing key satisfies ...IfExists and the negated operators (AWS: "not equal" to nothing).
        return if_exists or op in ("StringNotEquals", "ArnNotEquals", "StringNotLike", "ArnNotLike")
    if op == "Bool":
        return actual.lower() in [v.lower() for v in expected_values]
    if op in ("StringEquals", "ArnEquals"):
        return actual in expected_values
    if op in ("StringNotEquals", "ArnNotEquals"):
        return actual not in expected_values
    if op in ("StringLike", "ArnLike"):
        return any(_matches(v, actual) for v in expected_values)
    if op in ("StringNotLike", "ArnNotLike"):
        return not any(_matches(v, actual) for v in expected_values)
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in [v.lower() for v in expected_values]
    return False  # an operator we cannot evaluate never grants and never denies


def evaluate_bucket_policy(policy: dict, action: str, resource: str, context: dict) -> str:
    """'DENIED', 'PERMITTED' or 'NEUTRAL' for an anonymous-or-any caller, as S3 decides."""

    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    verdict = "NEUTRAL"
    for stmt in as_list(policy.get("Statement", [])):
        principal = stmt.get("Principal")
        # Statements for a specific service or account never match an emulator client, except "*".
        if not (principal == "*" or (isinstance(principal, dict) and as_list(principal.get("AWS", [])) == ["*"])):
            continue
        actions = as_list(stmt.get("Action", stmt.get("NotAction", [])))
        hit = any(_matches(a.lower(), action.lower()) for a in actions)
        if "NotAction" in stmt:
            hit = not hit
        resources = as_list(stmt.get("Resource", stmt.get("NotResource", [])))
        in_scope = any(_matches(r, resource) for r in resources)
        if "NotResource" in stmt:
            in_scope = not in_scope
        if not (hit and in_scope):
            continue
        conditions = stmt.get("Condition", {})
        if not all(
            _condition_holds(operator, key, expected, context)
            for operator, pairs in conditions.items()
            for key, expected in pairs.items()
        ):
            continue
        if stmt.get("Effect") == "Deny":
            return "DENIED"
        verdict = "PERMITTED"
    return verdict


def _fix_bucket_policy_evaluation() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        context = getattr(REQUEST, "context", {"aws:SecureTransport": "true"})
        verdict = evaluate_bucket_policy(json.loads(self.policy.decode()), action, resource, context)
        return getattr(PermissionResult, verdict)

    FakeBucket.get_permission = get_permission


def _fix_security_group_rule_description() -> None:
    from moto.ec2.models.security_groups import SecurityGroupRule

    original_init = SecurityGroupRule.__init__

    def __init__(self: SecurityGroupRule, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        prefix_list = (
            kwargs.get("prefix_list_id") if "prefix_list_id" in kwargs else (args[7] if len(args) > 7 else None)
        )
        self._prefix_list_description = (prefix_list or {}).get("Description")

    def description(self: SecurityGroupRule) -> str | None:
        return (
            self.ip_range.get("Description")
            or self.source_group.get("Description")
            or getattr(self, "_prefix_list_description", None)
        )

    SecurityGroupRule.__init__ = __init__
    SecurityGroupRule.description = property(description)


def _fix_dropped_attributes() -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.glue.models import FakeConnection
    from moto.kinesis.responses import KinesisResponse

    connection_as_dict = FakeConnection.as_dict

    def as_dict(self: FakeConnection) -> dict:
        return {**connection_as_dict(self), "ConnectionType": self.connection_input.get("ConnectionType")}

    FakeConnection.as_dict = as_dict

    lambda_init = LambdaFunction.__init__

    def lambda_init_(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        lambda_init(self, account_id, spec, *args, **kwargs)
        self._kms_key_arn = spec.get("KMSKeyArn")
        self._logging_config = spec.get("LoggingConfig")

    original_get_configuration = LambdaFunction.get_configuration

    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original_get_configuration(self, *args, **kwargs)
        if getattr(self, "_kms_key_arn", None):
            config["KMSKeyArn"] = self._kms_key_arn
        # AWS always reports a logging config: Text format and /aws/lambda/<name> unless set.
        config["LoggingConfig"] = {
            "LogFormat": "Text",
            "LogGroup": f"/aws/lambda/{self.function_name}",
            **(getattr(self, "_logging_config", None) or {}),
        }
        return config

    original_update = LambdaFunction.update_configuration

    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "KMSKeyArn" in config_updates:
            self._kms_key_arn = config_updates["KMSKeyArn"] or None
        if "LoggingConfig" in config_updates:
            self._logging_config = config_updates["LoggingConfig"]
        return original_update(self, config_updates)

    LambdaFunction.__init__ = lambda_init_
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration

    original_create_stream = KinesisResponse.create_stream

    def create_stream(self: KinesisResponse) -> ActionResult:
        result = original_create_stream(self)
        tags = self._get_param("Tags")
        if tags:
            self.kinesis_backend.add_tags_to_stream(
                stream_arn=None, stream_name=self._get_param("StreamName"), tags=tags
            )
        return result

    KinesisResponse.create_stream = create_stream


def _fix_dynamodb_export_names() -> None:
    from moto.dynamodb.models.table_export import TableExport

    original = TableExport._backup_to_s3_file

    def _backup_to_s3_file(self: TableExport, s3_backend: S3Backend) -> None:
        put = s3_backend.put_object
        export_root = f"{self.s3_prefix}/AWSDynamoDB/"

        def put_object(bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> FakeKey:
            if key_name.startswith(export_root) and "/data/" in key_name and not key_name.endswith(".json.gz"):
                key_name = key_name[: -len(".gz")] + ".json.gz"
            return put(bucket_name, key_name, *args, **kwargs)

        s3_backend.put_object = put_object  # shadows the method for this export only
        try:
            original(self, s3_backend)
        finally:
            del s3_backend.put_object

    TableExport._backup_to_s3_file = _backup_to_s3_file


def _fix_eventbridge_notification() -> None:
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(self: S3Response) -> TYPE_RESPONSE:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return original(self)
        result = {"EventBridgeConfiguration": {}}
        for attr, key, arn in (
            ("topic", "TopicConfigurations", "TopicArn"),
            ("queue", "QueueConfigurations", "QueueArn"),
            ("cloud_function", "LambdaFunctionConfigurations", "LambdaFunctionArn"),
        ):
            result[key] = [{"Id": i.id, arn: i.arn, "Events": i.events} for i in getattr(config, attr)]
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult(result))

    S3Response.get_bucket_notification = get_bucket_notification


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Drained:
    """A response that, once sent, reads what is left of its request's body (see _request_bodies)."""

    def __init__(self, result: Iterable[bytes], body: InputStream | None) -> None:
        self._result, self._body = result, body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._result)

    def close(self) -> None:
        try:
            if hasattr(self._result, "close"):
                self._result.close()
        finally:
            try:
                while self._body is not None and self._body.read(1 << 16):
                    pass
            except Exception:  # noqa: BLE001 - a client that went away leaves nothing to drain
                pass


class _ExactLength:
    """
    The body of a request that has a Content-Length: a body cut short (the client went away
    mid-upload) raises, so the request fails and nothing is stored, as in S3. cheroot hands the
    application the bytes that came, and moto stored the truncated object.
    """

    def __init__(self, stream: InputStream, length: int) -> None:
        self._stream, self._left, self._length = stream, length, length

    def _short(self) -> ConnectionError:
        return ConnectionError(
            f"the request body ended after {self._length - self._left} of {self._length} bytes (Content-Length)"
        )

    def read(self, size: int | None = -1) -> bytes:
        want = self._left if size is None or size < 0 else min(size, self._left)
        parts, got = [], 0
        while got < want:
            chunk = self._stream.read(want - got)
            if not chunk:
                self._left -= got
                raise self._short()
            parts.append(chunk)
            got += len(chunk)
        self._left -= got
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        limit = self._left if size is None or size < 0 else min(size, self._left)
        line = self._stream.readline(limit) if limit else b""
        if limit and not line:
            raise self._short()
        self._left -= len(line)
        return line

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


def _request_bodies(app: WsgiApp) -> WsgiApp:
    """
    WSGI middleware for the bodies of kept-alive requests:
      * a body shorter than its Content-Length is an error, never a shorter body (_ExactLength);
      * a request answered without reading its body (a denial, a validation error) has the body
        read off the connection after the response. Unread bytes would otherwise be parsed as the
        next request; cheroot drains only bodies of a known length, and botocore sends S3 uploads
        chunked (aws-chunked with trailing checksums).
    """

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> _Drained:
        length = environ.get("CONTENT_LENGTH")
        if length and not environ.get("wsgi.input_terminated") and length.isdigit():
            environ["wsgi.input"] = _ExactLength(environ["wsgi.input"], int(length))
        return _Drained(app(environ, start_response), environ.get("wsgi.input"))

    return wrapped


# Worker threads of each listener. Keep-alive connections wait in cheroot's selector, not in a
# worker; a worker is busy only for a request's duration (a long poll holds one for its wait).
SERVER_THREADS = 64
# Idle connections kept open (cheroot's default is 10): every Pipe and Firehose poller, state
# machine client and Spark job holds some, and past the limit each new request handshakes again.
KEEP_ALIVE_CONNECTIONS = 512


def _server(port: int, app: WsgiApp, tls: tuple[Path, Path] | None = None) -> Server:
    """
    A listener for the WSGI app, bound before it returns. cheroot, not werkzeug's development
    server: werkzeug 3 sends `Connection: close` on every response and waits 10 ms after each for
    a request body to drain, so every AWS call (a Spark job's S3 reads, a state machine's polls)
    paid a new TCP and TLS handshake, both sides in this one process. cheroot keeps connections
    alive, as AWS endpoints do.
    """
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    server = wsgi.Server(("127.0.0.1", port), app, numthreads=SERVER_THREADS, server_name="emulator", timeout=60)
    server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
    if tls is not None:
        server.ssl_adapter = BuiltinSSLAdapter(str(tls[0]), str(tls[1]))
    server.prepare()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-dir", default=".emulator")
    parser.add_argument("--detached", action="store_true")
    args = parser.parse_args()

    state_dir = Path(args.state_dir).resolve()
    cert, key, bundle = ensure_tls(state_dir)
    port = args.port or free_port()
    internal_port = free_port()
    # moto's own service integrations call http://localhost:$MOTO_PORT (see module docstring).
    os.environ["MOTO_PORT"] = str(internal_port)
    # What services/ hands the processes it runs (Lambda functions) to reach the emulator.
    os.environ["EMULATOR_ENDPOINT"], os.environ["EMULATOR_CA_BUNDLE"] = f"https://127.0.0.1:{port}", str(bundle)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    fill_gaps()
    glue_jobs.register(f"https://127.0.0.1:{port}", str(bundle))
    from services import stepfunctions_tls

    stepfunctions_tls.register(f"https://127.0.0.1:{port}", str(bundle))
    import services

    from services import iam_enforce

    # Decides every request of the components' assumed-role sessions (EMULATOR_IAM; services/iam_enforce.py).
    app = _request_bodies(
        iam_enforce.register(
            services.with_routes(_capture_request_context(DomainDispatcherApplication(create_backend_app))), state_dir
        )
    )
    servers = [_server(port, app, (cert, key)), _server(internal_port, app)]
    threads = [threading.Thread(target=s.serve, daemon=True) for s in servers]
    for thread in threads:
        thread.start()

    endpoint = f"https://127.0.0.1:{port}"
    _health_check(endpoint, bundle)
    ready = {
        "endpoint": endpoint,
        "port": port,
        "caBundle": str(bundle),
        "pid": os.getpid(),
        # Only for tests that prove TLS-only bucket policies deny plain HTTP.
        "insecureEndpoint": f"http://127.0.0.1:{internal_port}",
    }
    print(json.dumps(ready), flush=True)
    # Nothing else may reach stdout: the parent stops reading it after the ready line.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # Parent watch: stdin closes when the process that started us exits, however it exits.
    if not args.detached:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    for server in servers:
        server.stop()
    for thread in threads:
        thread.join(timeout=10)


def _health_check(endpoint: str, bundle: Path) -> None:
    import boto3

    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIA123456789012EMUL",
        aws_secret_access_key="emulator",
        verify=str(bundle),
    )
    identity = sts.get_caller_identity()
    if identity["Account"] != "123456789012":
        raise SystemExit(f"emulator health check: unexpected account {identity['Account']}")


if __name__ == "__main__":
    main()
