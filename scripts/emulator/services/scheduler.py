"""
EventBridge Scheduler: schedules fire on their expression and invoke their Lambda target.

moto 5.2.1 stores schedules and never fires them. Here every ENABLED schedule fires as Scheduler
fires it, checked every second:
  * `rate(N minute|minutes|hour|hours|day|days)`: every N units from StartDate, else from the
    schedule's creation or last change (the first run one period after it);
  * `cron(minutes hours day-of-month month day-of-week year)` in ScheduleExpressionTimezone, with
    `*`, `?`, lists, ranges, `/` steps and month/day names (`L`, `W` and `#` are refused in the log
    and the schedule never fires);
  * `at(yyyy-mm-ddThh:mm:ss)` once, then deleted when ActionAfterCompletion is DELETE;
  * nothing before StartDate or after EndDate; FlexibleTimeWindow is ignored (fires on time).
A firing invokes a Lambda target asynchronously (InvocationType Event, the target's Input as the
payload) with the target's RoleArn (STS AssumeRole), so the function runs as services/awslambda.py
runs it. A universal target `arn:aws:scheduler:::aws-sdk:glue:startJobRun` calls Glue StartJobRun
with the target's Input as the request (e.g. {"JobName": "..."}), as the target's role, so the job
runs as services/glue_jobs.py runs it; other universal targets are refused in the log. An invoke Scheduler cannot make (e.g. the function is missing) is retried per the
target's RetryPolicy (waits scaled by EMULATOR_SCALE, at most 5 tries here) and then sent to
DeadLetterConfig's queue with Scheduler's error attributes. Other target types are logged, not run.

Operators and tests fire a schedule now with POST /_emulator/scheduler/fire
{"ScheduleArn": "arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>"}; the answer says
what was invoked.
Written for moto 5.2.1.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from . import LOG, assume_role, backends, client, every, require_moto, route, scale

if TYPE_CHECKING:
    from collections.abc import Iterator

    from moto.scheduler.models import EventBridgeSchedulerBackend, Schedule, ScheduleGroup

TICK_SECONDS = 1.0
MAX_TRIES = 5  # Scheduler allows 185 retries over a day; a local run needs to see the DLQ sooner
_next: dict[str, tuple[tuple, dt.datetime | None]] = {}
_lock = threading.Lock()

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i + 1 for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}


def register() -> None:
    require_moto("scheduler", "5.2.1")
    every(TICK_SECONDS, "scheduler", _tick)
    route("/_emulator/scheduler/fire", _fire_now)


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------
def _parse_time(value: str | float | dt.datetime | None) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _field(spec: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    if spec in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in spec.split(","):
        if re.search(r"[LW#]", part):
            raise ValueError(f"cron field {spec!r}: L, W and # are not evaluated by the emulator")
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _value(a, names), _value(b, names)
        else:
            first = _value(part, names)
            last = high if step > 1 else first
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    return names[text.upper()] if names and text.upper() in names else int(text)


def next_fire(
    expression: str, after: dt.datetime, timezone: str = "UTC", anchor: dt.datetime | None = None
) -> dt.datetime | None:
    """The first time after `after` the expression fires (UTC), or None when it never fires again."""
    match = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", expression.strip())
    if match:
        period = int(match.group(1)) * _UNITS[match.group(2)]
        start = anchor or after
        if after < start:
            return start + dt.timedelta(seconds=period)
        periods = int((after - start).total_seconds() // period) + 1
        return start + dt.timedelta(seconds=periods * period)
    match = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", expression.strip())
    if match:
        when = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone)).astimezone(dt.timezone.utc)
        return when if when > after else None
    match = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not match:
        raise ValueError(f"unknown schedule expression {expression!r}")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ValueError(
            f"cron expression {expression!r} needs 6 fields (minutes hours day-of-month month day-of-week year)"
        )
    minutes, hours = sorted(_field(fields[0], 0, 59)), sorted(_field(fields[1], 0, 23))
    dom, months = _field(fields[2], 1, 31), _field(fields[3], 1, 12, _MONTHS)
    dow, years = _field(fields[4], 1, 7, _DAYS), _field(fields[5], 1970, 2199)
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    day = local.date()
    for _ in range(366 * 5):
        # Scheduler's day-of-week: 1 = Sunday; Python's isoweekday: 7 = Sunday.
        if day.year in years and day.month in months and day.day in dom and (day.isoweekday() % 7) + 1 in dow:
            for hour in hours:
                for minute in minutes:
                    candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(
                        dt.timezone.utc
                    )
                    if candidate > after:
                        return candidate
        day += dt.timedelta(days=1)
    return None


# --------------------------------------------------------------------------------------------
# Firing
# --------------------------------------------------------------------------------------------
def _schedules() -> Iterator[tuple[EventBridgeSchedulerBackend, ScheduleGroup, Schedule]]:
    from moto.scheduler.models import scheduler_backends

    for _account, _region, backend in backends(scheduler_backends):
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                yield backend, group, schedule


def _tick() -> None:
    now = dt.datetime.now(dt.timezone.utc)
    seen = set()
    for backend, group, schedule in _schedules():
        seen.add(schedule.arn)
        if schedule.state != "ENABLED":
            continue
        version = (
            schedule.schedule_expression,
            schedule.schedule_expression_timezone,
            schedule.start_date,
            schedule.last_modified_date,
        )
        with _lock:
            known = _next.get(schedule.arn)
            if known is None or known[0] != version:
                anchor = _parse_time(schedule.start_date) or _parse_time(schedule.last_modified_date) or now
                # A one-time schedule is due from when it was made: a time that passed before this
                # tick saw it still fires once.
                after = anchor - dt.timedelta(seconds=1) if schedule.schedule_expression.startswith("at(") else now
                try:
                    due = next_fire(
                        schedule.schedule_expression, after, schedule.schedule_expression_timezone or "UTC", anchor
                    )
                except (ValueError, KeyError) as error:
                    LOG.error("schedule %s never fires: %s", schedule.arn, error)
                    due = None
                _next[schedule.arn] = known = (version, due)
        due = known[1]
        if due is None or due > now:
            continue
        end = _parse_time(schedule.end_date)
        with _lock:
            following = None if end and due > end else _safe_next(schedule, due)
            _next[schedule.arn] = (version, following)
        if end and due > end:
            continue
        threading.Thread(target=fire, args=(schedule,), name=f"schedule-{schedule.name}", daemon=True).start()
        if schedule.schedule_expression.startswith("at(") and schedule.action_after_completion == "DELETE":
            group.schedules.pop(schedule.name, None)
    with _lock:
        for arn in [a for a in _next if a not in seen]:
            del _next[arn]


def _safe_next(schedule: Schedule, after: dt.datetime) -> dt.datetime | None:
    try:
        return next_fire(
            schedule.schedule_expression,
            after,
            schedule.schedule_expression_timezone or "UTC",
            _parse_time(schedule.start_date) or _parse_time(schedule.last_modified_date),
        )
    except (ValueError, KeyError):
        return None


def fire(schedule: Schedule) -> dict:
    """Invoke the schedule's target once (with its retry policy and dead-letter queue)."""
    target = schedule.target
    arn = target["Arn"]
    if arn in UNIVERSAL_TARGETS:
        return _fire_universal(schedule, UNIVERSAL_TARGETS[arn])
    _, _, service, region, account, *_ = arn.split(":")
    if service != "lambda":
        LOG.error(
            "schedule %s: target %s is not a Lambda function; the emulator invokes only Lambda targets",
            schedule.arn,
            arn,
        )
        return {
            "ScheduleArn": schedule.arn,
            "Target": arn,
            "Status": "NOT_RUN",
            "Reason": "only Lambda targets are invoked by the emulator",
        }
    policy = target.get("RetryPolicy") or {}
    tries = 1 + min(int(policy.get("MaximumRetryAttempts", 185)), MAX_TRIES - 1)
    last_error = None
    for attempt in range(tries):
        if attempt:
            time.sleep(min(60, 2**attempt) * scale())
        try:
            credentials = assume_role(target["RoleArn"], f"scheduler-{schedule.name}")
            answer = client("lambda", account, region, credentials).invoke(
                FunctionName=arn, InvocationType="Event", Payload=(target.get("Input") or "{}").encode()
            )
            LOG.info("schedule %s: invoked %s (HTTP %s)", schedule.arn, arn, answer["StatusCode"])
            return {"ScheduleArn": schedule.arn, "Target": arn, "Status": "INVOKED", "Attempts": attempt + 1}
        except Exception as error:  # noqa: BLE001 - Scheduler's failure path: retry, then dead-letter
            last_error = error
    LOG.error("schedule %s: could not invoke %s after %d tries: %s", schedule.arn, arn, tries, last_error)
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dlq:
        _dead_letter(schedule, dlq, last_error, tries)
    return {
        "ScheduleArn": schedule.arn,
        "Target": arn,
        "Status": "FAILED",
        "Error": str(last_error),
        "DeadLetterQueue": dlq,
    }


#: Universal targets the emulator runs: Scheduler's SDK-call ARN → (boto3 service, method).
UNIVERSAL_TARGETS = {"arn:aws:scheduler:::aws-sdk:glue:startJobRun": ("glue", "start_job_run")}


def _fire_universal(schedule: Schedule, call: tuple[str, str]) -> dict:
    """A universal target: the SDK call with the target's Input as its request, in the schedule's account and region, as the target's role."""
    import json

    target = schedule.target
    _, _, _, region, account, *_ = schedule.arn.split(":")
    service, method = call
    policy = target.get("RetryPolicy") or {}
    tries = 1 + min(int(policy.get("MaximumRetryAttempts", 185)), MAX_TRIES - 1)
    last_error = None
    for attempt in range(tries):
        if attempt:
            time.sleep(min(60, 2**attempt) * scale())
        try:
            request = json.loads(target.get("Input") or "{}")
            credentials = assume_role(target["RoleArn"], f"scheduler-{schedule.name}")
            answer = getattr(client(service, account, region, credentials), method)(**request)
            answer.pop("ResponseMetadata", None)
            LOG.info("schedule %s: %s.%s answered %s", schedule.arn, service, method, answer)
            return {
                "ScheduleArn": schedule.arn,
                "Target": target["Arn"],
                "Status": "INVOKED",
                "Attempts": attempt + 1,
                "Response": answer,
            }
        except Exception as error:  # noqa: BLE001 - Scheduler's failure path: retry, then dead-letter
            last_error = error
    LOG.error("schedule %s: %s.%s failed after %d tries: %s", schedule.arn, service, method, tries, last_error)
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dlq:
        _dead_letter(schedule, dlq, last_error, tries)
    return {
        "ScheduleArn": schedule.arn,
        "Target": target["Arn"],
        "Status": "FAILED",
        "Error": str(last_error),
        "DeadLetterQueue": dlq,
    }


def _dead_letter(schedule: Schedule, dlq: str, error: Exception | None, tries: int) -> None:
    _, _, _, region, account, name = dlq.split(":")
    code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__) if error else "Unknown"
    attrs = {
        "ERROR_CODE": code,
        "ERROR_MESSAGE": str(error),
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": str(tries - 1),
        "SCHEDULE_ARN": schedule.arn,
        "TARGET_ARN": schedule.target["Arn"],
    }
    try:
        sqs = client("sqs", account, region)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=schedule.target.get("Input") or "{}",
            MessageAttributes={k: {"DataType": "String", "StringValue": v[:1000] or "-"} for k, v in attrs.items()},
        )
    except Exception:  # noqa: BLE001 - a dead letter is best effort: its failure is logged, the firing's answer stands
        LOG.exception("schedule %s: could not dead-letter to %s", schedule.arn, dlq)


def _fire_now(request: dict) -> dict:
    arn = request.get("ScheduleArn")
    if not arn:
        raise ValueError(
            'POST /_emulator/scheduler/fire needs {"ScheduleArn": "arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>"}'
        )
    for _backend, _group, schedule in _schedules():
        if schedule.arn == arn:
            return fire(schedule)
    raise LookupError(f"no schedule {arn}")
