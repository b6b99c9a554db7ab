"""
IAM enforcement for the credentials the emulator issues to the components it runs.

What moto lacks: moto 5.2.1 authorizes requests only when INITIAL_NO_AUTH_ACTION_COUNT is set,
and then for every caller (terraform's admin keys too, which are not IAM users here, so plans
would fail); it resolves resources only for S3, SQS, IAM and STS, ignores resource policies and
all but StringEquals conditions, authorizes no KMS call behind an SSE-KMS S3 request, does not
check a role's trust policy on AssumeRole, and its Step Functions interpreter signs every task
call with the fixed key "ak".

What this does (register(), called once from launcher.py, wraps the server):
  * Every request signed with an assumed-role session (the credentials the emulator's services
    get through STS AssumeRole: Glue job runs, Lambda, Firehose, pipes, crawlers, Scheduler, the
    Step Functions interpreter) is mapped to the IAM action(s) and resource ARN(s) AWS
    authorizes, then decided by iam_policy.decide from the role's inline and attached policies
    and the resource's own policy (bucket, KMS key, SQS queue, SNS topic, secret), with the
    request's condition context (aws:SecureTransport, aws:PrincipalArn, s3:prefix, the SSE
    headers, kms:ViaService, cloudwatch:namespace, events:source).
  * SSE-KMS S3 requests also need the KMS call S3 makes for the caller: kms:GenerateDataKey on
    writes (PutObject, CreateMultipartUpload, the copy target), kms:Decrypt on reads of
    SSE-KMS objects and on CompleteMultipartUpload, judged with kms:ViaService =
    s3.<region>.amazonaws.com against the key policy and the role's policies.
  * AssumeRole by the emulator's services (recognized by the session names they use) is checked
    against the role's trust policy for the service principal that assumes it in AWS.
  * Step Functions task calls are signed with the state machine's role (assumed as
    states.amazonaws.com), not moto's fixed key.
  * Every request is recorded in a decision log: JSON lines in <state-dir>/iam-decisions-<pid>.jsonl
    and counts at POST /_emulator/iam/decisions, per phase (POST /_emulator/iam/phase
    {"phase": "data"} starts one): decided, allowed, denied, terraform-signed, unsigned, other.

EMULATOR_IAM selects the mode: `enforce` answers a denied request with AWS's AccessDenied
(S3's XML, AccessDeniedException for JSON protocols, an ErrorResponse for query protocols),
naming principal, action and resource; `observe` (the default) decides and logs but lets the
request through; `off` does neither. terraform's admin keys (AKIA<account>EMUL) are never
decided: they are the account, as a deploy needs.

Written for moto 5.2.1 (register refuses another version): it reads moto's STS, IAM, S3, KMS,
SQS, SNS, Secrets Manager, Athena backends and the Step Functions interpreter's worker.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional
from urllib.parse import parse_qs, unquote

from . import LOG, require_moto, route
from .iam_policy import Decision, decide, trust_allows

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from botocore.client import BaseClient
    from moto.s3.models import FakeBucket, S3Backend

MOTO_VERSION = "5.2.1"
MODES = ("enforce", "observe", "off")
ADMIN_KEY = re.compile(r"^AKIA(\d{12})EMUL$")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

# The service principal that assumes a role, from the session name the emulator's services use.
SESSION_SERVICES = (
    ("GlueJobRunnerSession-", "glue.amazonaws.com"),
    ("crawler-", "glue.amazonaws.com"),
    ("firehose-", "firehose.amazonaws.com"),
    ("pipe-", "pipes.amazonaws.com"),
    ("scheduler-", "scheduler.amazonaws.com"),
    ("states-", "states.amazonaws.com"),
)

# Signing name -> IAM action prefix where they differ.
PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}


class _Log:
    """The decision log: counts per phase, what each role exercised, and the JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.phase = "deploy"
        self.counts: dict[str, dict[str, int]] = {}
        self.exercised: dict[str, dict[str, int]] = {}
        self.denials: list[dict] = []
        self.file = path.open("a", buffering=1)

    def record(self, entry: dict) -> None:
        with self.lock:
            entry = {"time": dt.datetime.now(dt.timezone.utc).isoformat(), "phase": self.phase, **entry}
            counts = self.counts.setdefault(
                self.phase,
                {
                    k: 0
                    for k in (
                        "requests",
                        "decided",
                        "allowed",
                        "denied",
                        "terraformSigned",
                        "serviceAssumeRole",
                        "unsigned",
                        "other",
                    )
                },
            )
            kind = entry["kind"]
            if kind == "decision":
                counts["decided"] += 1
                counts["allowed" if entry["allowed"] else "denied"] += 1
                if entry["allowed"]:
                    for label in entry.get("matched", []):
                        key = f"{entry['action']} {label}"
                        per_role = self.exercised.setdefault(entry["role"], {})
                        per_role[key] = per_role.get(key, 0) + 1
                else:
                    self.denials.append(entry)
                    del self.denials[:-50]
            elif kind == "request":
                counts["requests"] += 1
                signer = entry["signer"]
                if signer == "service":
                    counts["serviceAssumeRole"] += 1
                elif signer != "role":
                    counts[{"terraform": "terraformSigned", "unsigned": "unsigned"}.get(signer, "other")] += 1
            self.file.write(json.dumps(entry, default=str) + "\n")

    def summary(self) -> dict:
        with self.lock:
            return {
                "phase": self.phase,
                "log": str(self.path),
                "counts": json.loads(json.dumps(self.counts)),
                "denials": list(self.denials),
                "exercised": json.loads(json.dumps(self.exercised)),
            }


_STATE: dict[str, Any] = {"mode": "observe", "log": None}


def mode() -> str:
    raw = os.environ.get("EMULATOR_IAM", "observe")
    if raw not in MODES:
        raise SystemExit(f"emulator: EMULATOR_IAM must be one of {', '.join(MODES)} (got {raw!r})")
    return raw


def register(app: WSGIApplication, state_dir: Path) -> WSGIApplication:
    """Wrap the WSGI app with enforcement; patch the Step Functions interpreter's credentials."""
    require_moto("iam_enforce", MOTO_VERSION)
    _STATE["mode"] = mode()
    if _STATE["mode"] == "off":
        return app
    _STATE["log"] = _Log(Path(state_dir) / f"iam-decisions-{os.getpid()}.jsonl")
    route("/_emulator/iam/decisions", lambda _request: _STATE["log"].summary())
    route("/_emulator/iam/phase", _set_phase)
    _sign_state_machine_tasks_with_their_role()
    LOG.info("emulator iam: %s mode, decision log %s", _STATE["mode"], _STATE["log"].path)
    return _middleware(app)


def _set_phase(request: dict) -> dict:
    phase = request.get("phase")
    if not isinstance(phase, str) or not phase:
        raise ValueError('POST /_emulator/iam/phase needs {"phase": "<name>"}')
    _STATE["log"].phase = phase
    return _STATE["log"].summary()


# --------------------------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------------------------
def _middleware(app: WSGIApplication) -> WSGIApplication:
    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/") or path.startswith("/moto-api"):
            return app(environ, start_response)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        match = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
            unquote(environ.get("QUERY_STRING", "")).replace("X-Amz-Credential=", "Credential=")
        )
        log: _Log = _STATE["log"]
        if not match:
            log.record({"kind": "request", "signer": "unsigned", "method": environ.get("REQUEST_METHOD"), "path": path})
            return app(environ, start_response)
        key, region, service = match.groups()
        if ADMIN_KEY.match(key):
            if service == "sts":
                denied, assuming = _check_trust(environ, _body(environ), region)
                if assuming:
                    # A service assuming a component's role (trust-checked): the service's principal, not terraform's.
                    log.record(
                        {
                            "kind": "request",
                            "signer": "service",
                            "principal": assuming,
                            "service": service,
                            "path": path,
                        }
                    )
                    return denied(start_response) if denied else app(environ, start_response)
            log.record(
                {
                    "kind": "request",
                    "signer": "terraform",
                    "service": service,
                    "method": environ.get("REQUEST_METHOD"),
                    "path": path,
                    "target": environ.get("HTTP_X_AMZ_TARGET"),
                    # Tells a test's own calls (tagged with the SDK's app id) from a component's.
                    "agent": environ.get("HTTP_USER_AGENT"),
                }
            )
            return app(environ, start_response)
        session = _session(key)
        if session is None:
            log.record({"kind": "request", "signer": "other", "key": key, "service": service, "path": path})
            return app(environ, start_response)
        log.record({"kind": "request", "signer": "role", "role": session["role"], "service": service})
        try:
            authorizations = _authorizations(environ, service, region, session["account"])
        except Exception as error:  # noqa: BLE001 - a request we cannot map is denied, never waved through
            LOG.exception("emulator iam: cannot map %s %s", service, path)
            authorizations = [
                (f"{PREFIX.get(service, service)}:Unmapped", "*", {}, None, False, f"cannot map request: {error}")
            ]
        for action, resource, extra, policy, is_key, note in authorizations:
            if (action, session["principal"].split("/")[-1].startswith("GlueJobRunnerSession-")) == (
                "s3:GetBucketEncryption",
                True,
            ):
                # The emulator's Glue runtime asks each bucket which key to write with; Glue itself takes
                # it from the job's security configuration: the Glue service's work, not the role's.
                log.record(
                    {
                        "kind": "request",
                        "signer": "service",
                        "principal": "service glue.amazonaws.com",
                        "service": service,
                        "path": path,
                        "note": "Glue runtime: the bucket's default encryption",
                    }
                )
                continue
            decision = _decide(session, action, resource, extra, policy, is_key)
            log.record(
                {
                    "kind": "decision",
                    "principal": session["principal"],
                    "role": session["role"],
                    "action": action,
                    "resource": resource,
                    "allowed": decision.allowed,
                    "reason": note or decision.reason,
                    "matched": decision.matched,
                    "unsupported": decision.unsupported,
                }
            )
            if not decision.allowed and _STATE["mode"] == "enforce":
                return _denied(environ, service, session["principal"], action, resource, decision)(start_response)
        return app(environ, start_response)

    return wrapped


def _body(environ: WSGIEnvironment) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


_sessions: dict[str, dict] = {}


def _session(access_key: str) -> Optional[dict]:
    if access_key in _sessions:
        return _sessions[access_key]
    from moto.sts.models import sts_backends

    for account in list(sts_backends.keys()):
        for partition in list(sts_backends[account].keys()):
            for assumed in list(sts_backends[account][partition].assumed_roles):
                if assumed.access_key_id == access_key:
                    role_name = assumed.role_arn.split("/")[-1]
                    session = {
                        "account": account,
                        "role": assumed.role_arn,
                        "roleName": role_name,
                        "principal": f"arn:aws:sts::{account}:assumed-role/{role_name}/{assumed.session_name}",
                    }
                    _sessions[access_key] = session
                    return session
    return None


def _decide(session: dict, action: str, resource: str, extra: dict, policy: Any, is_key: bool) -> Decision:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    backend = iam_backends[session["account"]]["global"]
    role_name = session["roleName"]
    try:
        inline = [
            (f"{role_name}:{name}", backend.get_role_policy(role_name, name)[1])
            for name in backend.list_role_policies(role_name)
        ]
        attached = [
            (p.name, next(v.document for v in p.versions if v.is_default))
            for p in backend.list_attached_role_policies(role_name)[0]
        ]
    except (NotFoundException, StopIteration):
        # The role is gone, or a managed policy has no default version (moto's SetDefaultPolicyVersion
        # to the current default clears its flag): nothing allows it.
        inline, attached = [], []
    context = {
        "aws:SecureTransport": "true" if extra.pop("_secure", True) else "false",
        "aws:PrincipalArn": session["role"],
        "aws:PrincipalAccount": session["account"],
        "aws:PrincipalType": "AssumedRole",
        "kms:CallerAccount": session["account"],
        **{k: v for k, v in extra.items() if v is not None},
    }
    return decide(
        principal_arn=session["principal"],
        role_arn=session["role"],
        account=session["account"],
        action=action,
        resource=resource,
        context=context,
        identity_policies=inline + attached,
        resource_policy=policy,
        key_policy=is_key,
    )


# --------------------------------------------------------------------------------------------
# Request -> (action, resource, context, resource policy, is key policy, note)
# --------------------------------------------------------------------------------------------
def _authorizations(environ: WSGIEnvironment, service: str, region: str, account: str) -> list[tuple]:
    secure = environ.get("wsgi.url_scheme") == "https"
    if service == "s3":
        out = _s3(environ, region, account)
    else:
        body = _body(environ)
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            operation = target.split(".")[-1]
            params = json.loads(body or b"{}") if body else {}
        elif environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in (environ.get("CONTENT_TYPE") or ""):
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            operation, params = form.get("Action", "Unknown"), form
        else:
            operation, params = _rest_operation(service, environ, body)
        out = _service_resources(PREFIX.get(service, service), operation, params, region, account)
    for item in out:
        item[2]["_secure"] = secure
    return out


def _s3(environ: WSGIEnvironment, region: str, account: str) -> list[tuple]:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import s3_backends

    method = environ.get("REQUEST_METHOD")
    path = unquote(environ.get("PATH_INFO", ""))
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    bucket, _, key = path.lstrip("/").partition("/")
    backend = s3_backends[account]["aws"]
    try:
        fake = backend.get_bucket(bucket)
        policy = fake.policy.decode() if fake.policy else None
    except S3ClientError:  # a missing bucket fails in S3 itself after the decision
        fake, policy = None, None
    headers = {
        "s3:x-amz-server-side-encryption": environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION"),
        "s3:x-amz-server-side-encryption-aws-kms-key-id": environ.get(
            "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID"
        ),
        "s3:x-amz-acl": environ.get("HTTP_X_AMZ_ACL"),
    }
    bucket_arn, object_arn = f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{key}"
    out: list[tuple] = []

    def add(action: str, resource: str, extra: Optional[dict] = None) -> None:
        out.append((action, resource, {**(extra or {})}, policy, False, None))

    if not key:
        if method in ("GET", "HEAD") and not (
            set(query)
            - {
                "list-type",
                "prefix",
                "delimiter",
                "max-keys",
                "continuation-token",
                "start-after",
                "marker",
                "encoding-type",
                "fetch-owner",
            }
        ):
            add("s3:ListBucket", bucket_arn, {"s3:prefix": query.get("prefix", [""])[0]})
        elif "location" in query:
            add("s3:GetBucketLocation", bucket_arn)
        elif "uploads" in query:
            add("s3:ListBucketMultipartUploads", bucket_arn)
        elif "versions" in query:
            add("s3:ListBucketVersions", bucket_arn, {"s3:prefix": query.get("prefix", [""])[0]})
        elif method == "POST" and "delete" in query:
            body = _body(environ).decode(errors="replace")
            for name in re.findall(r"<Key>(.*?)</Key>", body, re.S):
                add("s3:DeleteObject", f"{bucket_arn}/{_xml_unescape(name)}")
        else:
            sub = next(iter(query), "")
            verb = {"GET": "Get", "HEAD": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, "Put")
            add(f"s3:{verb}Bucket{sub[:1].upper()}{sub[1:]}" if sub else f"s3:{verb}Bucket", bucket_arn)
        return out
    copy_source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    writes_object = (
        method == "PUT" and "partNumber" not in query and "tagging" not in query and "acl" not in query
    ) or (method == "POST" and "uploads" in query)
    if method in ("GET", "HEAD"):
        if "tagging" in query:
            add("s3:GetObjectTagging", object_arn)
        elif "uploadId" in query:
            add("s3:ListMultipartUploadParts", object_arn)
        else:
            add("s3:GetObject", object_arn)
            if method == "GET":
                out.extend(_kms_for_object(backend, bucket, key, "kms:Decrypt", region))
    elif method == "PUT":
        if "tagging" in query:
            add("s3:PutObjectTagging", object_arn)
        elif "acl" in query:
            add("s3:PutObjectAcl", object_arn)
        else:
            add("s3:PutObject", object_arn, headers)
        if copy_source:
            src = unquote(copy_source.split("?")[0]).lstrip("/")
            src_bucket, _, src_key = src.partition("/")
            try:
                src_policy = backend.get_bucket(src_bucket).policy
            except S3ClientError:  # a missing source bucket fails in S3 itself after the decision
                src_policy = None
            out.append(
                ("s3:GetObject", f"arn:aws:s3:::{src}", {}, src_policy.decode() if src_policy else None, False, None)
            )
            out.extend(_kms_for_object(backend, src_bucket, src_key, "kms:Decrypt", region))
    elif method == "DELETE":
        add("s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject", object_arn)
    elif method == "POST" and "uploads" in query:
        add("s3:PutObject", object_arn, headers)
    elif method == "POST" and "uploadId" in query:
        add("s3:PutObject", object_arn)
        # S3 decrypts the parts to complete an SSE-KMS multipart upload: the caller needs kms:Decrypt
        # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
        key_id = _write_key(fake, headers, environ, upload=_upload_key(backend, bucket, query["uploadId"][0]))
        if key_id:
            out.extend(_kms(key_id, "kms:Decrypt", region, account))
    else:
        add("s3:PutObject", object_arn, headers)
    if writes_object:
        key_id = _write_key(fake, headers, environ)
        if key_id:
            out.extend(_kms(key_id, "kms:GenerateDataKey", region, account))
    return out


def _xml_unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _upload_key(backend: S3Backend, bucket: str, upload_id: str) -> Optional[str]:
    from moto.s3.exceptions import S3ClientError

    try:
        upload = backend.get_bucket(bucket).multiparts.get(upload_id)
        return getattr(upload, "kms_key_id", None) or (
            "" if getattr(upload, "sse_encryption", None) == "aws:kms" else None
        )
    except S3ClientError:  # a missing bucket
        return None


def _write_key(
    fake: Optional[FakeBucket], headers: dict, environ: WSGIEnvironment, upload: Optional[str] = None
) -> Optional[str]:
    """The KMS key S3 encrypts a new object with: the request's, or the bucket default's, or none."""
    if upload:
        return upload
    if headers.get("s3:x-amz-server-side-encryption") == "aws:kms":
        return headers.get("s3:x-amz-server-side-encryption-aws-kms-key-id") or _default_key(fake) or "alias/aws/s3"
    if headers.get("s3:x-amz-server-side-encryption"):
        return None
    return _default_key(fake)


def _default_key(fake: Optional[FakeBucket]) -> Optional[str]:
    rules = (getattr(fake, "encryption", None) or {}).get("Rule")
    for rule in rules if isinstance(rules, list) else [rules] if rules else []:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") == "aws:kms":
            return default.get("KMSMasterKeyID") or "alias/aws/s3"
    return None


def _kms_for_object(backend: S3Backend, bucket: str, key: str, action: str, region: str) -> list[tuple]:
    from moto.s3.exceptions import S3ClientError

    try:
        obj = backend.get_object(bucket, key)
    except S3ClientError:  # a missing bucket fails in S3 itself after the decision (a missing object is None)
        return []
    if obj is None or getattr(obj, "encryption", None) != "aws:kms":
        return []
    return _kms(obj.kms_key_id or "alias/aws/s3", action, region, backend.account_id)


def _kms(key_id: str, action: str, region: str, account: str) -> list[tuple]:
    """The KMS call S3 makes on the caller's behalf, judged with kms:ViaService = s3.<region>.amazonaws.com."""
    arn, policy = _key(key_id, region, account)
    return [(action, arn, {"kms:ViaService": f"s3.{region}.amazonaws.com"}, policy, True, None)]


def _key(key_id: str, region: str, account: str) -> tuple[str, Optional[str]]:
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        account, region = parts[4], parts[3]
    backend = kms_backends[account][region]
    try:
        key = backend.keys[backend.any_id_to_key_id(key_id)]
        return key.arn, key.policy
    except (KeyError, AttributeError):
        # An unknown key id (KeyError) or alias (moto's any_id_to_key_id then calls a string method on None):
        # nothing allows it (KMS answers NotFound after).
        return (key_id if key_id.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key_id}"), None


def _rest_operation(service: str, environ: WSGIEnvironment, body: bytes) -> tuple[str, dict]:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
    if service == "lambda":
        match = re.match(r"^/[\d-]+/functions/([^/]+)(/.*)?$", unquote(path))
        if match:
            name, rest = match.group(1), match.group(2) or ""
            operation = {
                "/invocations": "InvokeFunction",
                "/configuration": "GetFunctionConfiguration",
                "": "GetFunction" if method == "GET" else "UpdateFunction",
            }.get(rest, "Function" + rest.strip("/").title())
            return operation, {"FunctionName": name}
    params = json.loads(body) if body[:1] == b"{" else {}
    return f"{method} {path}", params


def _service_resources(prefix: str, operation: str, p: dict, region: str, account: str) -> list[tuple]:
    action = f"{prefix}:{_ACTION_ALIASES.get((prefix, operation), operation)}"
    arn = f":{region}:{account}:"

    def one(resource: str, extra: Optional[dict] = None, policy: Any = None, is_key: bool = False) -> list[tuple]:
        return [(action, resource, dict(extra or {}), policy, is_key, None)]

    if prefix == "kms":
        if "KeyId" not in p:
            return one("*")
        key_arn, policy = _key(p["KeyId"], region, account)
        return one(key_arn, {}, policy, True)
    if prefix == "sqs":
        url = p.get("QueueUrl") or (
            f"/{p.get('QueueOwnerAWSAccountId') or account}/{p['QueueName']}" if p.get("QueueName") else None
        )
        if not url:
            return one("*")
        name = url.rstrip("/").split("/")[-1]
        queue_account = url.rstrip("/").split("/")[-2] if url.count("/") >= 4 else account
        return one(f"arn:aws:sqs:{region}:{queue_account}:{name}", {}, _sqs_policy(queue_account, region, name))
    if prefix == "sns":
        topic = p.get("TopicArn") or p.get("TargetArn")
        return one(topic or "*", {}, _sns_policy(topic) if topic else None)
    if prefix == "states":
        return one(p.get("stateMachineArn") or p.get("executionArn") or p.get("activityArn") or "*")
    if prefix == "logs":
        group, stream = p.get("logGroupName"), p.get("logStreamName")
        if not group:
            return one("*")
        if stream and operation in ("PutLogEvents", "GetLogEvents"):
            return one(f"arn:aws:logs{arn}log-group:{group}:log-stream:{stream}")
        return one(f"arn:aws:logs{arn}log-group:{group}:*")
    if prefix == "glue":
        return _glue(action, operation, p, arn)
    if prefix == "kinesis":
        stream = p.get("StreamARN") or (
            f"arn:aws:kinesis{arn}stream/{p['StreamName']}" if p.get("StreamName") else None
        )
        if not stream and p.get("ShardIterator"):
            from moto.kinesis.utils import decompose_shard_iterator

            stream = f"arn:aws:kinesis{arn}stream/{decompose_shard_iterator(p['ShardIterator'])[0]}"
        return one(stream or "*")
    if prefix == "firehose":
        return one(
            f"arn:aws:firehose{arn}deliverystream/{p['DeliveryStreamName']}" if p.get("DeliveryStreamName") else "*"
        )
    if prefix == "dynamodb":
        table = (
            p.get("TableArn")
            or p.get("ExportArn")
            or (f"arn:aws:dynamodb{arn}table/{p['TableName']}" if p.get("TableName") else "*")
        )
        return one(table)
    if prefix == "athena":
        return one(f"arn:aws:athena{arn}workgroup/{_workgroup(p, region, account)}")
    if prefix == "secretsmanager":
        return _secret(action, p.get("SecretId"), region, account)
    if prefix == "events":
        out = []
        for entry in p.get("Entries", []) or [{}]:
            bus = entry.get("EventBusName") or "default"
            out.append(
                (
                    action,
                    bus if bus.startswith("arn:") else f"arn:aws:events{arn}event-bus/{bus}",
                    {"events:source": entry.get("Source")},
                    None,
                    False,
                    None,
                )
            )
        return out
    if prefix == "cloudwatch":
        return one("*", {"cloudwatch:namespace": p.get("Namespace")})
    if prefix == "lambda":
        name = p.get("FunctionName", "")
        return one(name if name.startswith("arn:") else f"arn:aws:lambda{arn}function:{name}")
    if prefix == "sts":
        if operation == "GetCallerIdentity":
            return []  # AWS authorizes no one for it: every principal may ask who it is
        return one(p.get("RoleArn") or "*")
    return one("*")


# Operations whose IAM action is named differently.
_ACTION_ALIASES = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("sns", "PublishBatch"): "Publish",
    ("firehose", "PutRecordBatch"): "PutRecordBatch",
    ("kinesis", "PutRecords"): "PutRecords",
}


def _glue(action: str, operation: str, p: dict, arn: str) -> list[tuple]:
    """Glue authorizes the catalog, the database and the table ARN for table-level calls."""
    catalog = f"arn:aws:glue{arn}catalog"
    database = p.get("DatabaseName")
    table = p.get("TableName") or (p.get("Name") if database else None)
    if operation in ("GetDatabase", "CreateDatabase", "UpdateDatabase", "DeleteDatabase"):
        database, table = p.get("Name") or (p.get("DatabaseInput") or {}).get("Name"), None
    if operation in ("CreateTable", "UpdateTable"):
        table = (p.get("TableInput") or {}).get("Name")
    if operation.startswith(
        ("StartJobRun", "GetJobRun", "GetJob", "BatchStopJobRun", "ResetJobBookmark", "GetJobBookmark", "UpdateJob")
    ):
        return [(action, f"arn:aws:glue{arn}job/{p.get('JobName') or p.get('Name')}", {}, None, False, None)]
    if "Crawler" in operation or operation.startswith("GetCrawl"):
        return [(action, f"arn:aws:glue{arn}crawler/{p.get('Name') or p.get('CrawlerName')}", {}, None, False, None)]
    if "Connection" in operation and p.get("Name"):
        return [
            (action, catalog, {}, None, False, None),
            (action, f"arn:aws:glue{arn}connection/{p['Name']}", {}, None, False, None),
        ]
    if not database:
        return [(action, catalog, {}, None, False, None)]
    out = [
        (action, catalog, {}, None, False, None),
        (action, f"arn:aws:glue{arn}database/{database}", {}, None, False, None),
    ]
    if table:
        out.append((action, f"arn:aws:glue{arn}table/{database}/{table}", {}, None, False, None))
    return out


def _sqs_policy(account: str, region: str, name: str) -> Optional[str]:
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    try:
        return sqs_backends[account][region].get_queue(name).policy
    except (KeyError, QueueDoesNotExist):  # a region moto does not know, or no such queue: no queue policy
        return None


def _sns_policy(topic_arn: str) -> Optional[str]:
    from moto.sns.exceptions import TopicNotFound
    from moto.sns.models import sns_backends

    try:
        parts = topic_arn.split(":")
        return sns_backends[parts[4]][parts[3]].get_topic(topic_arn).policy
    except (LookupError, ValueError, TopicNotFound):
        # Not an ARN (too few parts: IndexError, or ValueError in moto's parse_arn), a region moto does not
        # know (KeyError), or no such topic: no topic policy.
        return None


def _secret(action: str, secret_id: Optional[str], region: str, account: str) -> list[tuple]:
    from moto.secretsmanager.models import secretsmanager_backends

    if not secret_id:
        return [(action, "*", {}, None, False, None)]
    backend = secretsmanager_backends[account][region]
    try:
        secret = backend.secrets[secret_id]
        return [(action, secret.arn, {}, getattr(secret, "policy", None), False, None)]
    except KeyError:  # no such secret: its ARN as the request names it, and no resource policy
        return [
            (
                action,
                secret_id
                if secret_id.startswith("arn:")
                else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}",
                {},
                None,
                False,
                None,
            )
        ]


def _workgroup(p: dict, region: str, account: str) -> str:
    if p.get("WorkGroup"):
        return p["WorkGroup"]
    if p.get("QueryExecutionId"):
        from moto.athena.models import athena_backends

        try:
            return athena_backends[account][region].executions[p["QueryExecutionId"]].workgroup or "primary"
        except KeyError:  # a region moto does not know, or no such execution
            pass
    return "primary"


# --------------------------------------------------------------------------------------------
# Denials in each protocol's shape
# --------------------------------------------------------------------------------------------
def _denied(
    environ: WSGIEnvironment, service: str, principal: str, action: str, resource: str, decision: Decision
) -> Callable:
    because = decision.reason.replace("implicit deny: ", "")
    message = f"User: {principal} is not authorized to perform: {action} on resource: {resource} because {because}"
    request_id = str(uuid.uuid4())
    LOG.info("emulator iam: DENIED %s", message)
    if service == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>{_xml(message)}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return _respond("403 Forbidden", "application/xml", body, {"x-amz-request-id": request_id})
    if environ.get("HTTP_X_AMZ_TARGET") or service in ("lambda", "pipes", "scheduler"):
        body = json.dumps({"__type": "AccessDeniedException", "message": message, "Message": message}).encode()
        headers = {"x-amzn-ErrorType": "AccessDeniedException", "x-amzn-RequestId": request_id}
        if service == "sqs":  # SQS's JSON protocol keeps its query-protocol error codes
            headers["x-amzn-query-error"] = "AccessDenied;Sender"
        status = "403 Forbidden" if service in ("lambda", "pipes", "scheduler") else "400 Bad Request"
        return _respond(status, "application/x-amz-json-1.0", body, headers)
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{_xml(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return _respond("403 Forbidden", "text/xml", body, {"x-amzn-RequestId": request_id})


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _respond(status: str, content_type: str, body: bytes, headers: dict) -> Callable:
    def respond(start_response: StartResponse) -> list[bytes]:
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers.items()])
        return [body]

    return respond


# --------------------------------------------------------------------------------------------
# AssumeRole: the role's trust policy, for the service that assumes it
# --------------------------------------------------------------------------------------------
def _check_trust(environ: WSGIEnvironment, body: bytes, region: str) -> tuple[Optional[Callable], Optional[str]]:
    form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    if form.get("Action") != "AssumeRole":
        return None, None
    session_name, role_arn = form.get("RoleSessionName", ""), form.get("RoleArn", "")
    service = next((svc for prefix, svc in SESSION_SERVICES if session_name.startswith(prefix)), None)
    if service is None:
        service = _lambda_service(session_name, role_arn, region)
    if service is None:
        return None, None  # terraform (or a test) assuming a role as the account: not a component's assumption
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4]
    try:
        trust = iam_backends[account]["global"].get_role(role_arn.split("/")[-1]).assume_role_policy_document
    except NotFoundException:  # STS answers NoSuchEntity itself
        return None, service
    context = {
        "aws:SourceAccount": account,
        "aws:SourceArn": _source_arn(session_name, service, region, account),
        "aws:SecureTransport": "true",
    }
    decision = trust_allows(trust, service, context)
    principal = f"service {service}"
    _STATE["log"].record(
        {
            "kind": "decision",
            "principal": principal,
            "role": role_arn,
            "action": "sts:AssumeRole",
            "resource": role_arn,
            "allowed": decision.allowed,
            "reason": decision.reason,
            "matched": [f"trust/{m}" for m in decision.matched],
            "unsupported": decision.unsupported,
        }
    )
    if decision.allowed or _STATE["mode"] != "enforce":
        return None, service
    message = f"User: {principal} is not authorized to perform: sts:AssumeRole on resource: {role_arn} because {decision.reason}"
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{_xml(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return _respond("403 Forbidden", "text/xml", body, {}), service


def _lambda_service(session_name: str, role_arn: str, region: str) -> Optional[str]:
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import lambda_backends

    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else None
    if not account:
        return None
    try:
        fn = lambda_backends[account][region].get_function(session_name)
        return "lambda.amazonaws.com" if fn.role == role_arn else None
    except (KeyError, ValueError, LambdaClientError):
        # A region moto does not know (KeyError), a session name with more than one colon (ValueError in
        # moto's name:qualifier split), or no such function: not a Lambda function's session.
        return None


def _source_arn(session_name: str, service: str, region: str, account: str) -> Optional[str]:
    """aws:SourceArn as the service sends it, where the session name says which resource acts."""
    arn = f":{region}:{account}:"
    name = session_name.split("-", 1)[1] if "-" in session_name else session_name
    if service == "pipes.amazonaws.com":
        return f"arn:aws:pipes{arn}pipe/{name}"
    if service == "firehose.amazonaws.com":
        return f"arn:aws:firehose{arn}deliverystream/{name}"
    if service == "states.amazonaws.com":
        return _STATE.get("machines", {}).get(session_name)
    if service == "lambda.amazonaws.com":
        return f"arn:aws:lambda{arn}function:{session_name}"
    if service == "scheduler.amazonaws.com":
        return _schedule_group_arn(name, region, account)
    return None


def _schedule_group_arn(name: str, region: str, account: str) -> Optional[str]:
    """Scheduler sends its schedule's group, not the schedule, as aws:SourceArn (its execution-role guide)."""
    from moto.scheduler.models import scheduler_backends

    # moto 5.2 keeps schedules per group (ScheduleGroup.schedules, by name); its backend's own
    # `schedules` list stays empty.
    for group in scheduler_backends[account][region].schedule_groups.values():
        if name in group.schedules:
            return group.arn
    return None


# --------------------------------------------------------------------------------------------
# Step Functions: task calls with the state machine's role
# --------------------------------------------------------------------------------------------
_ROLE = "_emulator_state_machine"


def _sign_state_machine_tasks_with_their_role() -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    # Threads the interpreter starts (Map, Parallel, task waits) inherit the execution's role.
    init = threading.Thread.__init__

    def thread_init(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        inherited = getattr(threading.current_thread(), _ROLE, None)
        if inherited is not None:
            setattr(self, _ROLE, inherited)

    threading.Thread.__init__ = thread_init

    logic = ExecutionWorker._execution_logic

    def execution_logic(self: ExecutionWorker) -> None:
        details = self._evaluation_details
        machine = details.state_machine_details.arn if hasattr(details, "state_machine_details") else None
        setattr(threading.current_thread(), _ROLE, (details.aws_execution_details.role_arn, machine))
        return logic(self)

    ExecutionWorker._execution_logic = execution_logic

    clients = boto_client.boto3  # stepfunctions_tls's TLS clients (registered before this)
    original = clients.client

    def client(*args: Any, **kwargs: Any) -> BaseClient:
        acting = getattr(threading.current_thread(), _ROLE, None)
        if acting and kwargs.get("aws_access_key_id") == "ak":
            role_arn, machine = acting
            creds = _state_machine_credentials(role_arn, machine)
            kwargs.update(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        return original(*args, **kwargs)

    clients.client = client


_credentials: dict[str, dict] = {}
_credentials_lock = threading.Lock()


def _state_machine_credentials(role_arn: str, machine: Optional[str]) -> dict:
    from . import assume_role

    with _credentials_lock:
        cached = _credentials.get(role_arn)
        if cached and cached["Expiration"].timestamp() - dt.datetime.now(dt.timezone.utc).timestamp() > 300:
            return cached
        session = f"states-{(machine or role_arn).split(':')[-1]}"[:64]
        _STATE.setdefault("machines", {})[session] = machine
        cached = assume_role(role_arn, session)
        _credentials[role_arn] = cached
        return cached
