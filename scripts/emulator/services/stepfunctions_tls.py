"""
Step Functions service integrations over TLS.

What moto lacks: moto 5.2.1's Step Functions interpreter makes every AWS call of a state machine
(aws-sdk:*, glue:startJobRun, sns:publish, events:putEvents, ...) in plain HTTP, against
http://localhost:$MOTO_PORT. Step Functions calls AWS over TLS, and every bucket of the platform
denies requests without it (`aws:SecureTransport`), so in the emulator each S3 call a state machine
makes (the pipeline's WriteManifest, aws-sdk:s3:putObject) was refused with 403 Forbidden.

What this does: the interpreter's AWS clients call the emulator's TLS endpoint and trust its CA,
so bucket policies see the request as they would in AWS. Everything else about those clients
(credentials, retries, timeouts) stays moto's. moto builds a new client for every call (a
`.sync` Glue task polls GetJobRun every few seconds); one client per service, region and
credentials is kept instead, so its connections are reused rather than each poll loading the
service model and opening a TLS connection.

Written for moto 5.2.1: `register` refuses another version, and fails if the interpreter no longer
builds its clients with `boto3.client(..., endpoint_url=...)` in `boto_client_for`.
"""

from __future__ import annotations

import inspect
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

MOTO_VERSION = "5.2.1"
MAX_CLIENTS = 256


class _TlsClients:
    """Stands in for the `boto3` module inside moto's boto_client module: same clients, TLS endpoint."""

    def __init__(self, boto3: ModuleType, plain_endpoint: str, endpoint: str, ca_bundle: str) -> None:
        self._boto3 = boto3
        self._plain = plain_endpoint
        self._endpoint = endpoint
        self._ca_bundle = ca_bundle
        self._clients: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def client(self, *args: object, **kwargs: object) -> object:
        if args or kwargs.get("endpoint_url") != self._plain:
            return self._boto3.client(*args, **kwargs)
        kwargs["endpoint_url"] = self._endpoint
        kwargs["verify"] = self._ca_bundle
        # Every other argument moto passes is the same on each call (its Config's values included).
        key = tuple(
            kwargs.get(k)
            for k in ("service_name", "region_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token")
        )
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if len(self._clients) >= MAX_CLIENTS:  # credentials rotate: old ones are never asked for again
                    self._clients.clear()
                client = self._clients[key] = self._boto3.client(**kwargs)
            return client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._boto3, name)


def register(endpoint: str, ca_bundle: str) -> None:
    """Points the interpreter's clients at `endpoint` (https), trusting `ca_bundle`."""
    import boto3
    import moto
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client

    if moto.__version__ != MOTO_VERSION:
        raise SystemExit(
            f"emulator: services/stepfunctions_tls.py was written for moto {MOTO_VERSION}, found {moto.__version__}; revisit it"
        )
    source = inspect.getsource(boto_client.boto_client_for)
    if (
        getattr(boto_client, "boto3", None) is not boto3
        or "boto3.client(" not in source
        or "endpoint_url" not in source
    ):
        raise SystemExit(
            "emulator: moto's Step Functions boto_client_for changed; revisit services/stepfunctions_tls.py"
        )
    boto_client.boto3 = _TlsClients(boto3, f"http://localhost:{moto_server_port()}", endpoint, ca_bundle)
