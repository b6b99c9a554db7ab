"""
Services the emulator executes where moto only stores them, one module per service.

Each module's docstring says what moto lacks, what the module does, and the moto version it was
written against; its `register()` (called once from launcher.py) checks that version first and
stops the launcher with a clear message on any other, since every module leans on moto internals.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from collections.abc import Iterable
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from botocore.client import BaseClient
    from moto.core.base_backend import BackendDict

LOG = logging.getLogger("emulator")
if not LOG.handlers:  # what the services do goes to the server log (the launcher's stderr)
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s: %(message)s"))
    LOG.addHandler(_handler)
    LOG.setLevel(logging.INFO)


def require_moto(service: str, version: str) -> None:
    import moto

    if moto.__version__ != version:
        raise SystemExit(
            f"emulator: services/{service}.py was written for moto {version} and reads its internals; "
            f"moto {moto.__version__} is installed. Re-check the module against that version's source, then update it."
        )


def internal_endpoint() -> str:
    """The plain-HTTP loopback listener (launcher.py sets MOTO_PORT before registering services)."""
    port = os.environ.get("MOTO_PORT")
    if not port:
        raise SystemExit(
            "emulator: MOTO_PORT is unset; services must be registered by launcher.py after it picks the internal port"
        )
    return f"http://127.0.0.1:{port}"


def emulator_endpoint() -> tuple[str, str]:
    """The TLS endpoint clients use and its CA bundle (launcher.py sets both before registering services)."""
    endpoint, bundle = os.environ.get("EMULATOR_ENDPOINT"), os.environ.get("EMULATOR_CA_BUNDLE")
    if not endpoint or not bundle:
        raise SystemExit(
            "emulator: EMULATOR_ENDPOINT/EMULATOR_CA_BUNDLE unset; services must be registered by launcher.py"
        )
    return endpoint, bundle


def scale() -> float:
    """
    EMULATOR_SCALE (default 0.01): the fraction of AWS's waits and buffer sizes the emulator uses —
    Lambda's and Scheduler's retry waits, a refused Pipe batch's return to its queue, Firehose's
    buffering interval and size — so a local run
    takes seconds where AWS takes minutes (300 s → 3 s, 64 MB → 0.64 MB).
    """
    raw = os.environ.get("EMULATOR_SCALE", "0.01")
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"emulator: EMULATOR_SCALE must be a number between 0 and 1 (got {raw!r})") from None
    if not 0 <= value <= 1:
        raise SystemExit(f"emulator: EMULATOR_SCALE must be between 0 and 1 (got {raw!r})")
    return value


_routes: dict[str, Callable[[dict], dict]] = {}


def route(path: str, handler: Callable[[dict], dict]) -> None:
    """Serve POST <path> (JSON in, JSON out) on the emulator: operator actions AWS does on its own, e.g. firing a schedule now."""
    _routes[path] = handler


def with_routes(app: WSGIApplication) -> WSGIApplication:
    """WSGI middleware serving the services' routes (under /_emulator/) before moto."""
    import json

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        handler = _routes.get(environ.get("PATH_INFO", ""))
        if handler is None or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            status, answer = "200 OK", handler(request)
        except LookupError as error:
            status, answer = "404 Not Found", {"error": str(error)}
        except ValueError as error:
            status, answer = "400 Bad Request", {"error": str(error)}
        body = json.dumps(answer, default=str).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


def emulator_key(account_id: str) -> str:
    return f"AKIA{account_id}EMUL"


def client(service: str, account_id: str, region: str, credentials: dict | None = None) -> BaseClient:
    """
    A boto3 client on the emulator acting as `account_id`, or with the given (assumed-role)
    credentials. It uses the TLS endpoint clients use, so bucket policies see a secure request.
    """
    if credentials:
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    else:
        keys = {"aws_access_key_id": emulator_key(account_id), "aws_secret_access_key": "emulator"}
    endpoint, bundle = emulator_endpoint()
    with _client_lock:  # boto3's default session is not safe for concurrent client creation
        return _create(service, endpoint, bundle, region, keys)


_client_lock = threading.Lock()


def _create(service: str, endpoint: str, bundle: str, region: str, keys: dict) -> BaseClient:
    import boto3
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client(service, endpoint_url=endpoint, verify=bundle, region_name=region, config=config, **keys)


def assume_role(role_arn: str, session: str) -> dict:
    """Temporary credentials for `role_arn`, as the service that runs with it gets them."""
    account, region = role_arn.split(":")[4], "us-east-1"
    return client("sts", account, region).assume_role(RoleArn=role_arn, RoleSessionName=session[:64])["Credentials"]


def queue_url(queue_arn: str) -> str:
    """
    The queue's URL from its ARN, as AWS services address a queue they are configured with: they
    do not call GetQueueUrl (which the roles AWS documents for them are not granted).
    """
    _, _, _, region, account, name = queue_arn.split(":")
    return f"{emulator_endpoint()[0]}/{account}/{name}"


def every(seconds: float, name: str, tick: Callable[[], None]) -> threading.Thread:
    """Run `tick` every `seconds` on a daemon thread; a failing tick is logged and the loop goes on."""

    def loop() -> None:
        while True:
            time.sleep(seconds)
            try:
                tick()
            except Exception:  # a background service never takes the server down (logged)
                LOG.exception("emulator %s: tick failed", name)

    thread = threading.Thread(target=loop, name=f"emulator-{name}", daemon=True)
    thread.start()
    return thread


def backends(backend_dict: BackendDict[Any]) -> list[tuple[str, str, Any]]:
    """Every (account, region, backend) moto has created so far, copied so other threads may add more."""
    out = []
    for account_id in list(backend_dict.keys()):
        regions = backend_dict[account_id]
        for region in list(regions.keys()):
            out.append((account_id, region, regions[region]))
    return out
