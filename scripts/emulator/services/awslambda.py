"""
Lambda: invocations run the deployed zip in a Node child process.

moto 5.2.1 runs a function only in Docker (absent here), and otherwise answers every Invoke with
a canned payload. Here Invoke runs the function's stored zip as Lambda's Node.js runtime would:
  * the zip moto stored is unpacked once per code hash; the handler (`file.export`, e.g.
    `index.handler`) is loaded from `file.mjs`, `file.js` or `file.cjs` by lambda_bootstrap.mjs
    with the event (the request payload) and a context object (functionName, awsRequestId,
    invokedFunctionArn, memoryLimitInMB, getRemainingTimeInMillis, callback/done/succeed/fail);
  * the process gets the function's environment variables plus the variables Lambda sets
    (AWS_REGION, AWS_LAMBDA_FUNCTION_*, _HANDLER, TZ=:UTC), temporary credentials of the
    function's role (STS AssumeRole), and, to reach the emulator, AWS_ENDPOINT_URL, AWS_CA_BUNDLE,
    NODE_EXTRA_CA_CERTS and S3_FORCE_PATH_STYLE=true; nothing else of the server's environment;
  * Timeout: the process is killed when it runs past it and the invocation fails with
    "Task timed out after N.00 seconds" (Sandbox.Timedout). MemorySize caps the V8 heap
    (--max-old-space-size), which is most of what a Node function's memory holds;
  * output goes to the function's log group (LoggingConfig.LogGroup, else /aws/lambda/<name>)
    with Lambda's START / END / REPORT lines, and its tail to x-amz-log-result;
  * RequestResponse answers with the handler's result, or the error with X-Amz-Function-Error:
    Unhandled; DryRun answers 204; Event answers 202 and runs in the background, retried per the
    function's event invoke config (MaximumRetryAttempts, default 2; MaximumEventAgeInSeconds,
    default 6 h) after Lambda's 1- and 2-minute waits scaled by EMULATOR_SCALE. When every
    attempt failed (or the event grew too old) the record Lambda sends goes to the OnFailure
    destination, and a success's to OnSuccess, when that is an SQS queue (sent with the
    function's role); other destination types are logged, not sent.
Only nodejs* runtimes run; another fails the invocation with Runtime.InvalidRuntime.
Written for moto 5.2.1.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import LOG, assume_role, client, emulator_endpoint, queue_url, require_moto, scale

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction
    from werkzeug.datastructures import Headers

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.mjs")
RETRY_WAITS_SECONDS = (60, 120)  # Lambda's waits before its two async retries (scaled)
_code_root = Path(tempfile.mkdtemp(prefix="emulator-lambda-"))
_unpack_lock = threading.Lock()
_async = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda-async")


def register() -> None:
    require_moto("awslambda", "5.2.1")
    from moto.awslambda.models import LambdaFunction

    if not hasattr(LambdaFunction, "_invoke_lambda"):
        raise SystemExit("emulator: moto's LambdaFunction changed; revisit services/awslambda.py")
    node = shutil.which("node")
    if node is None:
        LOG.warning("lambda: no `node` on PATH; invocations will fail until Node.js is installed")
    LambdaFunction.invoke = _invoke
    import atexit

    atexit.register(shutil.rmtree, _code_root, True)


class Outcome:
    def __init__(self, payload: Any, error: dict | None, logs: str, request_id: str):  # payload: the handler's result
        self.payload, self.error, self.logs, self.request_id = payload, error, logs, request_id

    def body(self) -> bytes:
        return json.dumps(self.error if self.error else self.payload).encode()


# Replaces LambdaFunction.invoke: moto's InvokeFunction passes the request's headers, its other callers a dict.
def _invoke(
    self: LambdaFunction, body: str, request_headers: Headers | dict[str, str], response_headers: dict[str, Any]
) -> bytes:
    invocation = request_headers.get("x-amz-invocation-type", "RequestResponse")
    event = body if body else "{}"
    response_headers["x-amz-executed-version"] = self.version
    if invocation == "DryRun":
        return b""
    if invocation == "Event":
        _async.submit(_run_async, self, event, time.time())
        return b""
    outcome = run(self, event)
    if outcome.error:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-log-result"] = base64.b64encode(outcome.logs.encode()[-4096:]).decode()
    response_headers["x-amzn-requestid"] = outcome.request_id
    return outcome.body()


def _task_root(fn: LambdaFunction) -> Path:
    root = _code_root / fn.code_sha_256.replace("/", "_").replace("+", "-")
    with _unpack_lock:
        if not root.exists():
            staging = root.with_suffix(".partial")
            shutil.rmtree(staging, ignore_errors=True)
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(root)
    return root


def _log_group(fn: LambdaFunction) -> str:
    return (getattr(fn, "_logging_config", None) or {}).get("LogGroup") or f"/aws/lambda/{fn.function_name}"


def run(fn: LambdaFunction, event: str) -> Outcome:
    """One invocation of `fn` with `event` (JSON text), to its end, timeout or crash."""
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    error, payload, output = None, None, ""
    stream = f"{dt.datetime.now(dt.timezone.utc):%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"
    try:
        if not str(fn.run_time).startswith("nodejs"):
            raise _Failure(
                "Runtime.InvalidRuntime", f"the emulator runs nodejs runtimes only (function runtime {fn.run_time})"
            )
        node = shutil.which("node")
        if node is None:
            raise _Failure(
                "Runtime.InvalidEntrypoint", "the emulator needs Node.js (`node` on PATH) to run Lambda functions"
            )
        root = _task_root(fn)
        module, _, export = fn.handler.rpartition(".")
        candidates = [root / f"{module}{ext}" for ext in (".mjs", ".js", ".cjs")]
        module_file = next((c for c in candidates if c.exists()), None)
        if not module or module_file is None:
            raise _Failure(
                "Runtime.ImportModuleError",
                f"Error: Cannot find module '{module}' (handler {fn.handler}) in the deployed code",
            )
        credentials = assume_role(fn.role, fn.function_name)
        endpoint, ca_bundle = emulator_endpoint()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **((fn.environment_vars or {}) if isinstance(getattr(fn, "environment_vars", None), dict) else {}),
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": _log_group(fn),
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "LAMBDA_TASK_ROOT": str(root),
            "_HANDLER": fn.handler,
            "TZ": ":UTC",
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CA_BUNDLE": ca_bundle,
            "NODE_EXTRA_CA_CERTS": ca_bundle,
            "S3_FORCE_PATH_STYLE": "true",
            "_EMULATOR_REQUEST_ID": request_id,
            "_EMULATOR_FUNCTION_ARN": fn.function_arn,
            "_EMULATOR_DEADLINE_MS": str(int(time.time() * 1000 + int(fn.timeout) * 1000)),
        }
        with tempfile.TemporaryDirectory(prefix="invoke-") as scratch:
            result_file = Path(scratch) / "result.json"
            process = subprocess.Popen(
                [
                    node,
                    f"--max-old-space-size={int(fn.memory_size)}",
                    str(BOOTSTRAP),
                    str(module_file),
                    export,
                    str(result_file),
                ],
                cwd=root,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                out, _ = process.communicate(
                    event.encode() if isinstance(event, str) else event, timeout=int(fn.timeout)
                )
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                out, _ = process.communicate()
                output = out.decode(errors="replace")
                raise _Failure(
                    "Sandbox.Timedout",
                    f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%S.%fZ} {request_id} Task timed out after {int(fn.timeout):.2f} seconds",
                ) from None
            output = out.decode(errors="replace")
            if result_file.exists():
                result = json.loads(result_file.read_text())
                if result["ok"]:
                    payload = result["payload"]
                else:
                    error = {k: result[k] for k in ("errorType", "errorMessage", "stackTrace")}
            elif process.returncode == 0:
                payload = None  # the event loop emptied without an answer: Lambda returns null
            else:
                raise _Failure(
                    "Runtime.ExitError",
                    f"RequestId: {request_id} Error: Runtime exited with error: exit status {process.returncode}",
                )
    except _Failure as failure:
        error = {"errorType": failure.error_type, "errorMessage": failure.message}
    duration = (time.monotonic() - started) * 1000
    lines = [f"START RequestId: {request_id} Version: {fn.version}", *output.splitlines()]
    if error and error["errorType"] in (
        "Sandbox.Timedout",
        "Runtime.ExitError",
        "Runtime.InvalidRuntime",
        "Runtime.InvalidEntrypoint",
    ):
        lines.append(error["errorMessage"])
    elif error:  # what Lambda's Node runtime logs for an error the handler raised
        lines.append(
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%S.%f}"[:-3]
            + f"Z\t{request_id}\tERROR\tInvoke Error \t{json.dumps(error)}"
        )
    lines += [
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {max(1, round(duration))} ms\tMemory Size: {fn.memory_size} MB",
    ]
    _save_logs(fn, stream, lines)
    LOG.info(
        "lambda %s: request %s %s in %.0f ms",
        fn.function_name,
        request_id,
        f"failed ({error['errorType']})" if error else "succeeded",
        duration,
    )
    return Outcome(payload, error, "\n".join(lines) + "\n", request_id)


class _Failure(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type, self.message = error_type, message


def _save_logs(fn: LambdaFunction, stream: str, lines: list[str]) -> None:
    from moto.logs.models import logs_backends

    try:
        logs = logs_backends[fn.account_id][fn.region]
        group = _log_group(fn)
        if group not in logs.groups:
            logs.create_log_group(group, {})
        logs.create_log_stream(group, stream)
        now = int(time.time() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines or [""]])
    except Exception:  # noqa: BLE001 - a log write never fails the invocation
        LOG.exception("lambda %s: could not write its logs", fn.function_name)


def _event_config(fn: LambdaFunction) -> dict:
    configs = getattr(fn, "event_invoke_config", None) or []
    return configs[0].config if configs else {}


def _run_async(fn: LambdaFunction, event: str, received: float) -> None:
    config = _event_config(fn)
    retries = int(config.get("MaximumRetryAttempts", 2))
    max_age = int(config.get("MaximumEventAgeInSeconds", 21600))
    attempts, outcome, condition = 0, None, "RetriesExhausted"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(RETRY_WAITS_SECONDS[min(attempt, len(RETRY_WAITS_SECONDS)) - 1] * scale())
        if time.time() - received > max_age:
            condition = "EventAgeExceeded"
            break
        attempts += 1
        outcome = run(fn, event)
        if not outcome.error:
            break
    destinations = config.get("DestinationConfig") or {}
    if outcome is not None and not outcome.error:
        target = (destinations.get("OnSuccess") or {}).get("Destination")
        if target:
            _send_record(fn, target, event, outcome, attempts, "Success")
        return
    target = (destinations.get("OnFailure") or {}).get("Destination")
    LOG.warning(
        "lambda %s: async invocation failed after %d attempt(s) (%s)%s",
        fn.function_name,
        attempts,
        condition,
        f"; sent to {target}" if target else "; no on-failure destination",
    )
    if target:
        _send_record(fn, target, event, outcome, attempts, condition)


def _send_record(
    fn: LambdaFunction, destination: str, event: str, outcome: Outcome | None, attempts: int, condition: str
) -> None:
    """The invocation record Lambda sends to a destination."""
    try:
        request_payload = json.loads(event)
    except ValueError:
        request_payload = event
    record = {
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": outcome.request_id if outcome else str(uuid.uuid4()),
            "functionArn": f"{fn.function_arn}:{fn.version}",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": request_payload,
    }
    if outcome is not None:
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": fn.version,
            **({"functionError": "Unhandled"} if outcome.error else {}),
        }
        record["responsePayload"] = outcome.error if outcome.error else outcome.payload
    service, region, account = destination.split(":")[2], destination.split(":")[3], destination.split(":")[4]
    if service != "sqs":
        LOG.error(
            "lambda %s: destination %s is not an SQS queue; the emulator sends only to SQS destinations",
            fn.function_name,
            destination,
        )
        return
    try:
        sqs = client("sqs", account, region, assume_role(fn.role, fn.function_name))
        sqs.send_message(QueueUrl=queue_url(destination), MessageBody=json.dumps(record))
    except Exception:  # noqa: BLE001 - logged here: raised in the async pool, nothing would ever see it
        LOG.exception("lambda %s: could not send the invocation record to %s", fn.function_name, destination)
