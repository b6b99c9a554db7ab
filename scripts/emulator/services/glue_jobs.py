"""Glue job runs that run: the deployed script in local PySpark, with the local `awsglue` runtime.

What moto lacks (written for moto 5.2.1; `register` refuses another version): a job run steps
STARTING → RUNNING → SUCCEEDED as it is described, and nothing runs; UpdateJob, GetJobBookmark and
ResetJobBookmark are not implemented (nor in moto's main branch, 5.2.4.dev, when this was written).

What this does, for StartJobRun from the API and from Step Functions' `glue:startJobRun.sync`
(which polls GetJobRun, so it waits for the real run):
  * The run's process: the job's role is assumed (STS AssumeRole, as Glue does) and with its
    credentials the script is fetched from the job's Command.ScriptLocation and every
    `--extra-py-files` object; moto's merge of DefaultArguments, the run's Arguments and
    NonOverridableArguments is the argv, with `--JOB_ID`, `--JOB_RUN_ID` and `--JOB_NAME` as Glue
    passes them. The script runs in a child of the project's .venv Python (glue_runtime/run_job.py:
    real PySpark, s3:// served by glue_runtime/java's EmulatorS3FileSystem) with the role's
    credentials in its environment; no `--local`.
  * The run's state: RUNNING while the process lives, then SUCCEEDED, FAILED (ErrorMessage is the
    exception's one-line message) or TIMEOUT (the job's or the run's Timeout, in minutes; the
    process group is killed). StartedOn, CompletedOn and ExecutionTime are the process's.
    MaxConcurrentRuns is moto's check, which now sees runs that really are running.
  * Logs: stdout to `<LogGroupName>output` and stderr to `<LogGroupName>error`, stream = run id.
    LogGroupName is `/aws-glue/jobs/`, or, when the job's security configuration encrypts
    CloudWatch logs, `/aws-glue/jobs-<role name>-<security configuration>/` (Glue's JobRun
    LogGroupName), created with that configuration's KMS key. Written with the role's credentials.
    The output log ends with the run's storage figures (objects opened, bytes read, ...).
  * Bookmarks: per job, kept here. A run gets the job's state when `--job-bookmark-option` is
    job-bookmark-enable or -pause; what `Job.commit` hands back is stored when the run SUCCEEDED
    and the option is enable. GetJobBookmark returns it (EntityNotFoundException without one, as
    Glue), ResetJobBookmark clears it, or with RunId sets it back to before that run.
  * UpdateJob replaces the job's definition with the JobUpdate (Glue overwrites the whole
    definition), so an edited script location runs from the next run on.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.client import BaseClient
    from moto.glue.models import FakeJob, FakeJobRun

MOTO_VERSION = "5.2.1"
HERE = Path(__file__).resolve().parent
RUNTIME = HERE.parent / "glue_runtime"
ROOT = HERE.parents[2]
LOG = logging.getLogger("emulator.glue_jobs")
#: Where the JDBC driver jars come from: Debian's libpostgresql-jdbc-java, or DATAPLAT_JDBC_JARS (colon-separated).
JDBC_JARS = ("/usr/share/java/postgresql.jar",)

_CONFIG: dict[str, str] = {}
_START_LOCK = threading.Lock()
#: Process groups of the runs in flight, ended with the emulator (each run's process also watches it).
_LIVE: set[int] = set()


def _end_live_runs() -> None:
    for pgid in list(_LIVE):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def register(endpoint: str, ca_bundle: str) -> None:
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise SystemExit(
            f"emulator: services/glue_jobs.py was written for moto {MOTO_VERSION} (found {moto.__version__}); "
            "check FakeJob.start_job_run, FakeJobRun and GlueResponse against the new version and update it"
        )
    _CONFIG.update(endpoint=endpoint, caBundle=ca_bundle)
    atexit.register(_end_live_runs)
    _patch_runs()
    _patch_responses()


# ---------------------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------------------
def _patch_runs() -> None:
    from moto.glue.models import FakeJob, FakeJobRun

    start = FakeJob.start_job_run

    def start_job_run(self: FakeJob, *args: Any, **kwargs: Any) -> str:
        with _START_LOCK:  # moto's MaxConcurrentRuns check and the new run's RUNNING state, atomically
            run_id = start(self, *args, **kwargs)
            run = next(r for r in self.job_runs if r.job_run_id == run_id)
            run._transitions = [("RUNNING", "RUNNING")]  # the state is the process's, not moto's ticks
            run.status = "RUNNING"
            run.emulated = {
                "startedOn": dt.datetime.now(dt.timezone.utc),
                "completedOn": None,
                "error": None,
                "logGroupName": _log_group_prefix(self),
                "glueVersion": self.glue_version,
            }
        threading.Thread(target=_execute, args=(self, run), name=f"glue-run-{run_id}", daemon=True).start()
        return run_id

    FakeJob.start_job_run = start_job_run

    as_dict = FakeJobRun.as_dict

    def run_as_dict(self: FakeJobRun) -> dict[str, Any]:
        data = as_dict(self)
        state = getattr(self, "emulated", None)
        if state is None:
            return data
        end = state["completedOn"]
        data.update(
            StartedOn=state["startedOn"],
            LastModifiedOn=end or state["startedOn"],
            ExecutionTime=int(((end or dt.datetime.now(dt.timezone.utc)) - state["startedOn"]).total_seconds()),
            LogGroupName=state["logGroupName"],
            GlueVersion=state.get("glueVersion") or data.get("GlueVersion"),
        )
        if end is None:
            data.pop("CompletedOn", None)
        else:
            data["CompletedOn"] = end
        if state["error"]:
            data["ErrorMessage"] = state["error"]
        return data

    FakeJobRun.as_dict = run_as_dict


def _security_configuration(job: FakeJob) -> Optional[dict]:
    name = job.security_configuration
    if not name:
        return None
    found = job.backend.security_configurations.get(name)
    return found.configuration if found else None


def _log_group_prefix(job: FakeJob) -> str:
    config = _security_configuration(job) or {}
    cloudwatch = config.get("CloudWatchEncryption") or {}
    if cloudwatch.get("CloudWatchEncryptionMode") == "SSE-KMS":
        return f"/aws-glue/jobs-{job.role.rsplit('/', 1)[-1]}-{job.security_configuration}/"
    return "/aws-glue/jobs/"


def _admin_session(job: FakeJob) -> Session:
    import boto3

    return boto3.Session(
        aws_access_key_id=f"AKIA{job.backend.account_id}EMUL",
        aws_secret_access_key="emulator",
        region_name=job.backend.region_name,
    )


def _client(session: Session, service: str) -> BaseClient:
    return session.client(service, endpoint_url=_CONFIG["endpoint"], verify=_CONFIG["caBundle"])


def _assume_role(job: FakeJob, run_id: str) -> dict:
    import boto3

    role = job.role if job.role.startswith("arn:") else f"arn:aws:iam::{job.backend.account_id}:role/{job.role}"
    creds = _client(_admin_session(job), "sts").assume_role(
        RoleArn=role, RoleSessionName=f"GlueJobRunnerSession-{run_id[-16:]}", DurationSeconds=43200
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
        "_session": boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=job.backend.region_name,
        ),
    }


def _download(s3: BaseClient, uri: str, target: Path) -> Path:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// location: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(target))
    return target


def _finish(run: FakeJobRun, state: str, error: Optional[str] = None) -> None:
    run.emulated["error"] = error
    run.emulated["completedOn"] = dt.datetime.now(dt.timezone.utc)
    run.status = state


def _execute(job: FakeJob, run: FakeJobRun) -> None:
    """The run, start to end, on its own thread; every failure ends the run FAILED with its reason."""
    work = Path(tempfile.mkdtemp(prefix=f"glue-{run.job_run_id[:12]}-"))
    logs = None
    try:
        from glue_runtime.build import ensure_jar

        jar = ensure_jar()
        creds = _assume_role(job, run.job_run_id)
        session = creds.pop("_session")
        logs = _RunLogs(
            _client(session, "logs"), run.emulated["logGroupName"], run.job_run_id, _security_configuration(job)
        )
        s3 = _client(session, "s3")
        script_location = (job.command or {}).get("ScriptLocation")
        if not script_location:
            raise ValueError(f"job {job.name} has no Command.ScriptLocation")
        script = _download(s3, script_location, work / "script" / script_location.rsplit("/", 1)[-1])
        args = dict(run.arguments or {})
        python_path = []
        for i, uri in enumerate(u.strip() for u in (args.get("--extra-py-files") or "").split(",") if u.strip()):
            python_path.append(str(_download(s3, uri, work / "py" / str(i) / uri.rsplit("/", 1)[-1])))
        option = args.get("--job-bookmark-option", "job-bookmark-disable")
        bookmark = _bookmark(job)
        argv = ["--JOB_ID", f"j_{job.name}", "--JOB_RUN_ID", run.job_run_id, "--JOB_NAME", job.name]
        for name, value in args.items():
            if name in ("--JOB_ID", "--JOB_RUN_ID", "--JOB_NAME"):
                continue
            argv += [name, value]
        jdbc = [
            p
            for p in (
                os.environ.get("DATAPLAT_JDBC_JARS", "").split(":")
                if os.environ.get("DATAPLAT_JDBC_JARS")
                else JDBC_JARS
            )
            if p and Path(p).exists()
        ]
        spec = {
            "jobName": job.name,
            "runId": run.job_run_id,
            "script": str(script),
            "argv": argv,
            "pythonPath": python_path,
            "jars": [str(jar), *jdbc],
            "jdbcJars": jdbc,
            "endpoint": _CONFIG["endpoint"],
            "caBundle": _CONFIG["caBundle"],
            "region": job.backend.region_name,
            "bookmarkOption": option,
            "bookmark": bookmark["states"] if option in ("job-bookmark-enable", "job-bookmark-pause") else {},
            "bookmarkOut": str(work / "bookmark-out.json"),
            "resultOut": str(work / "result.json"),
        }
        (work / "run.json").write_text(json.dumps(spec))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYSPARK_", "SPARK_"))}
        env.update(
            {k: v for k, v in creds.items()},
            AWS_ENDPOINT_URL=_CONFIG["endpoint"],
            AWS_CA_BUNDLE=_CONFIG["caBundle"],
            AWS_REGION=job.backend.region_name,
            AWS_DEFAULT_REGION=job.backend.region_name,
            PYTHONUNBUFFERED="1",
            PYSPARK_PYTHON=sys.executable,
            SPARK_LOCAL_IP="127.0.0.1",
        )
        timeout_minutes = run.timeout or job.timeout or 2880
        child = subprocess.Popen(
            [sys.executable, str(RUNTIME / "run_job.py"), str(work / "run.json")],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _LIVE.add(child.pid)
        readers = [
            threading.Thread(target=logs.pump, args=(child.stdout, "output"), daemon=True),
            threading.Thread(target=logs.pump, args=(child.stderr, "error"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            code = child.wait(timeout=timeout_minutes * 60)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            for reader in readers:
                reader.join(timeout=10)
            _finish(run, "TIMEOUT", f"Job run timed out after {timeout_minutes} minutes")
            return
        finally:
            _LIVE.discard(child.pid)
        for reader in readers:
            reader.join(timeout=30)
        result = json.loads((work / "result.json").read_text()) if (work / "result.json").exists() else {}
        if code != 0:
            _finish(run, "FAILED", result.get("error") or f"the job's process exited with code {code}")
            return
        committed = work / "bookmark-out.json"
        if option == "job-bookmark-enable" and committed.exists():
            out = json.loads(committed.read_text())
            bookmark["history"].append({"runId": run.job_run_id, "before": bookmark["states"]})
            bookmark.update(
                states=out["states"],
                version=bookmark["version"] + 1,
                run=bookmark["run"] + 1,
                previousRunId=bookmark["runId"],
                runId=run.job_run_id,
            )
        _finish(run, "SUCCEEDED")
    except BaseException as error:  # the run fails with the reason (logged), the emulator carries on
        LOG.exception("glue job run %s of %s could not run", run.job_run_id, job.name)
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        _finish(run, "FAILED", f"{type(error).__name__}: {message}")
    finally:
        if logs is not None:
            logs.flush()
        shutil.rmtree(work, ignore_errors=True)


class _RunLogs:
    """A run's stdout/stderr as CloudWatch log events, in batches, in the run's log groups."""

    def __init__(self, client: BaseClient, prefix: str, stream: str, security_configuration: Optional[dict]):
        self.client, self.prefix, self.stream = client, prefix, stream
        self.kms = (
            ((security_configuration or {}).get("CloudWatchEncryption") or {}).get("KmsKeyArn")
            if prefix != "/aws-glue/jobs/"
            else None
        )
        self.pending: dict[str, list[dict]] = {"output": [], "error": []}
        self.lock = threading.Lock()
        self.ready: set[str] = set()

    def _ensure(self, group: str) -> None:
        if group in self.ready:
            return
        try:
            self.client.create_log_group(logGroupName=group, **({"kmsKeyId": self.kms} if self.kms else {}))
        except self.client.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            self.client.create_log_stream(logGroupName=group, logStreamName=self.stream)
        except self.client.exceptions.ResourceAlreadyExistsException:
            pass
        self.ready.add(group)

    def pump(self, pipe: IO[bytes], kind: str) -> None:
        last = time.monotonic()
        for raw in iter(pipe.readline, b""):
            with self.lock:
                self.pending[kind].append(
                    {
                        "timestamp": int(time.time() * 1000),
                        "message": raw.decode("utf-8", "replace").rstrip("\n") or " ",
                    }
                )
            if time.monotonic() - last > 2 or len(self.pending[kind]) >= 500:
                self.flush()
                last = time.monotonic()
        pipe.close()

    def flush(self) -> None:
        with self.lock:
            batches = {k: v for k, v in self.pending.items() if v}
            self.pending = {"output": [], "error": []}
            for kind, events in batches.items():
                group = f"{self.prefix}{kind}"
                try:
                    self._ensure(group)
                    for i in range(0, len(events), 1000):
                        self.client.put_log_events(
                            logGroupName=group, logStreamName=self.stream, logEvents=events[i : i + 1000]
                        )
                except Exception:  # a log that cannot be written must not change the run's outcome (logged)
                    LOG.exception("could not write %d log events to %s", len(events), group)


# ---------------------------------------------------------------------------------------------------------
# Bookmarks and UpdateJob
# ---------------------------------------------------------------------------------------------------------
def _bookmark(job: FakeJob) -> dict:
    if not hasattr(job, "emulated_bookmark"):
        job.emulated_bookmark = {
            "states": {},
            "version": 0,
            "run": 0,
            "runId": None,
            "previousRunId": None,
            "history": [],
        }
    return job.emulated_bookmark


def _bookmark_entry(job: FakeJob) -> dict:
    b = _bookmark(job)
    return {
        "JobName": job.name,
        "Version": b["version"],
        "Run": b["run"],
        "Attempt": 0,
        "RunId": b["runId"] or "",
        "PreviousRunId": b["previousRunId"] or "",
        "JobBookmark": json.dumps(b["states"], sort_keys=True),
    }


#: JobUpdate fields → FakeJob attributes (UpdateJob replaces the definition: absent fields are reset).
_JOB_FIELDS = {
    "Description": "description",
    "LogUri": "log_uri",
    "Role": "role",
    "ExecutionProperty": "execution_property",
    "Command": "command",
    "DefaultArguments": "default_arguments",
    "NonOverridableArguments": "non_overridable_arguments",
    "Connections": "connections",
    "MaxRetries": "max_retries",
    "AllocatedCapacity": "allocated_capacity",
    "Timeout": "timeout",
    "MaxCapacity": "max_capacity",
    "WorkerType": "worker_type",
    "NumberOfWorkers": "number_of_workers",
    "SecurityConfiguration": "security_configuration",
    "NotificationProperty": "notification_property",
    "GlueVersion": "glue_version",
    "CodeGenConfigurationNodes": "code_gen_configuration_nodes",
    "ExecutionClass": "execution_class",
    "SourceControlDetails": "source_control_details",
}


def _patch_responses() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.glue.exceptions import EntityNotFoundException, InvalidInputException
    from moto.glue.responses import GlueResponse

    def update_job(self: GlueResponse) -> ActionResult:
        job = self.glue_backend.get_job(self._get_param("JobName"))
        update = self._get_param("JobUpdate") or {}
        if not update.get("Role") or not update.get("Command"):
            raise InvalidInputException("UpdateJob", "JobUpdate needs Role and Command")
        for field, attr in _JOB_FIELDS.items():
            value = update.get(field)
            if field == "ExecutionProperty":
                value = value or {}
            elif field in ("DefaultArguments",):
                value = value or {}
            elif field == "ExecutionClass":
                value = value or "STANDARD"
            setattr(job, attr, value)
        job.last_modified_on = utcnow()
        return ActionResult({"JobName": job.name})

    def get_job_bookmark(self: GlueResponse) -> ActionResult:
        job = self.glue_backend.get_job(self._get_param("JobName"))
        if _bookmark(job)["runId"] is None:
            raise EntityNotFoundException(f"Continuation for job {job.name} not found")
        return ActionResult({"JobBookmarkEntry": _bookmark_entry(job)})

    def reset_job_bookmark(self: GlueResponse) -> ActionResult:
        job = self.glue_backend.get_job(self._get_param("JobName"))
        b = _bookmark(job)
        run_id = self._get_param("RunId")
        if run_id:
            before = next((h["before"] for h in b["history"] if h["runId"] == run_id), None)
            if before is None:
                raise EntityNotFoundException(f"Run {run_id} of job {job.name} has no bookmark")
            b["states"] = before
        else:
            b["states"] = {}
        b["version"] += 1
        return ActionResult({"JobBookmarkEntry": _bookmark_entry(job)})

    GlueResponse.update_job = update_job
    GlueResponse.get_job_bookmark = get_job_bookmark
    GlueResponse.reset_job_bookmark = reset_job_bookmark
