"""
Step Functions RedriveExecution.

What moto lacks: moto 5.2.1 has no RedriveExecution (the action is unknown to its responses, so
the call fails), and DescribeExecution carries none of redriveCount, redriveDate, redriveStatus or
redriveStatusReason. The platform's failure alerts and `npm run pipeline:rerun -- --redrive` rely
on it.

What this does, as the Step Functions API reference and developer guide describe redrive:
  * Only an execution of a STANDARD state machine that is FAILED, TIMED_OUT or ABORTED, and that
    stopped within the last 14 days, is redrivable. Anything else is refused with
    `ExecutionNotRedrivable` and AWS's reason ("Execution is SUCCEEDED and cannot be redriven.",
    "Execution is RUNNING and cannot be redriven.", "Execution redrivable period exceeded.");
    an unknown ARN with `ExecutionDoesNotExist`.
  * The execution keeps its ARN, name, input and definition (the one it started with, even if the
    state machine was updated since). It continues from the unsuccessful step: the top-level state
    that was entered and never exited when it stopped, with the input that state got then. Steps
    that completed are not run again, and the history goes on after an `ExecutionRedriven` event.
    A Task whose error a Catch handled did exit (into its handler), so an execution that ended in a
    Fail state after a Catch continues at that Fail state, as on AWS.
  * `$$.Execution.RedriveCount` and `$$.Execution.RedriveTime` are in the context object of the
    redriven run; DescribeExecution returns redriveCount (0 before any redrive), redriveDate,
    redriveStatus (REDRIVABLE | NOT_REDRIVABLE) and, when not redrivable, redriveStatusReason.
  * The same clientToken within a redrive answers that redrive again instead of a second one.
Differences from AWS: a Parallel or Map state that failed is rerun whole, not only its failed
branches or iterations; the 25,000-event history limit is not checked; JSONata variables assigned
before the unsuccessful step are not restored.

Only executions that moto actually ran (the `execute_state_machine` setting, which the platform's
tests and the local cloud turn on) can be redriven; with it off there is no run to continue and
the call says so.

Written for moto 5.2.1: `register` refuses another version (it reads the parser backend's
Execution, ExecutionWorker, Environment and EventManager internals).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import TYPE_CHECKING

from . import LOG, require_moto

if TYPE_CHECKING:
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.models import Execution as StoredExecution
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution

REDRIVABLE_FOR = dt.timedelta(days=14)
_UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")
_lock = threading.Lock()


def register() -> None:
    require_moto("stepfunctions_redrive", "5.2.1")
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def redrive_execution(self: StepFunctionResponse) -> ActionResult:
        date = redrive(self.stepfunction_backend, self._get_param("executionArn"), self._get_param("clientToken"))
        return ActionResult({"redriveDate": date})

    StepFunctionResponse.redrive_execution = redrive_execution

    original_describe = StepFunctionResponse.describe_execution

    def describe_execution(self: StepFunctionResponse) -> ActionResult:
        answer = original_describe(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        answer.result.update(redrive_fields(execution))
        return answer

    StepFunctionResponse.describe_execution = describe_execution


def _error(reason: str) -> AWSError:
    from moto.stepfunctions.exceptions import AWSError

    class NotRedrivable(AWSError):
        TYPE = "ExecutionNotRedrivable"
        STATUS = 400

    return NotRedrivable(reason)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def not_redrivable_reason(execution: StoredExecution | ParserExecution) -> str | None:
    """Why RedriveExecution would refuse this execution now (AWS's wording), or None."""
    status = str(getattr(execution, "status", ""))
    machine = getattr(execution, "state_machine", None)
    if machine is not None and str(getattr(machine, "sm_type", "STANDARD")) == "EXPRESS":
        return "Execution is of an EXPRESS state machine; only STANDARD executions can be redriven."
    if status not in _UNSUCCESSFUL:
        return f"Execution is {status} and cannot be redriven."
    stopped = getattr(execution, "stop_date", None)
    if isinstance(stopped, dt.datetime):
        stopped = stopped if stopped.tzinfo else stopped.replace(tzinfo=dt.timezone.utc)
        if _now() - stopped > REDRIVABLE_FOR:
            return "Execution redrivable period exceeded."
    return None


def redrive_fields(execution: StoredExecution | ParserExecution) -> dict:
    fields = {"redriveCount": getattr(execution, "emulator_redrive_count", 0)}
    if getattr(execution, "emulator_redrive_date", None) is not None:
        fields["redriveDate"] = execution.emulator_redrive_date
    reason = not_redrivable_reason(execution)
    fields["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
    if reason:
        fields["redriveStatusReason"] = reason
    return fields


def restart_point(history: list[dict], top_level: set[str]) -> tuple[str, object] | None:
    """The unsuccessful step: the last top-level state entered and not exited, with the input it got."""
    open_states: list[tuple[str, object]] = []
    for event in history:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            if details.get("name") in top_level:
                open_states.append((details["name"], details.get("input")))
        elif kind.endswith("StateExited"):
            name = (event.get("stateExitedEventDetails") or {}).get("name")
            for i in range(len(open_states) - 1, -1, -1):
                if open_states[i][0] == name:
                    del open_states[i]
                    break
    if not open_states:
        return None
    name, raw = open_states[-1]
    return name, json.loads(raw) if isinstance(raw, str) else raw


def redrive(backend: StepFunctionBackend, execution_arn: str, client_token: str | None) -> dt.datetime:
    from moto.stepfunctions.parser.backend.execution import Execution

    execution = backend.describe_execution(execution_arn)  # ExecutionDoesNotExist for an unknown ARN
    with _lock:
        if client_token and client_token == getattr(execution, "emulator_redrive_token", None):
            return execution.emulator_redrive_date
        reason = not_redrivable_reason(execution)
        if reason:
            raise _error(reason)
        if not isinstance(execution, Execution) or execution.exec_worker is None or execution.exec_worker.env is None:
            raise _error(
                "The emulator redrives only executions it ran: turn on moto's stepfunctions execute_state_machine "
                "(POST /moto-api/config) before starting them."
            )
        _continue(execution)
        execution.emulator_redrive_token = client_token
        return execution.emulator_redrive_date


def _continue(execution: ParserExecution) -> None:
    from moto.stepfunctions.parser.api import ExecutionRedrivenEventDetails, ExecutionStatus, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext

    previous = execution.exec_worker.env
    history = previous.event_manager.get_event_history()
    worker = execution._get_start_execution_worker()
    program = worker._get_evaluation_entrypoint()
    point = restart_point(history, set(program.states.states))
    # Nothing entered (the run failed before its first state): it continues at StartAt with the execution input.
    state_name, state_input = point or (program.start_at.start_at_name, execution.input_data)
    count = getattr(execution, "emulator_redrive_count", 0) + 1
    date = _now()

    def logic() -> None:
        env = worker._get_evaluation_environment()
        env.event_manager = previous.event_manager  # one history: ids go on after the last attempt's
        env.event_history_context = EventHistoryContext(previous_event_id=len(history))
        env.states.context_object.context_object_data["Execution"].update(
            RedriveCount=count, RedriveTime=date.isoformat()
        )
        env.states.reset(state_input)
        worker.env = env
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=EventDetails(executionRedrivenEventDetails=ExecutionRedrivenEventDetails(redriveCount=count)),
        )
        program.start_at = StartAt(start_at_name=state_name)
        program.eval(env)
        worker._execution_communication.terminated()

    worker._execution_logic = logic
    execution.exec_worker = worker
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = execution.output = None
    execution.emulator_redrive_count = count
    execution.emulator_redrive_date = date
    LOG.info("stepfunctions: redriving %s (redrive %d) from %s", execution.exec_arn, count, state_name)
    worker.start()
