"""
EventBridge rule targets moto cannot deliver to: SNS topics.

What moto lacks: moto 5.2.1's `Rule.send_to_targets` delivers to CloudWatch Logs, SQS, event buses,
archives and API destinations, and raises `NotImplementedError` for any other target. The raise
happens inside PutEvents, so one SNS-targeted rule matching an event turns the whole PutEvents
call into an HTTP 500 for whoever sent it: the pipelines' success and failure events (their
subscriber rules target SNS topics) failed every execution at its last step.

What this does: a matching rule's SNS targets get the event published to the topic (the target's
InputTransformer or Input applied as EventBridge does, else the event as JSON), which moto's SNS
then fans out to its subscriptions (SQS queues here). Other targets go to the rule's earlier
handlers (moto's own, and the launcher's Step Functions targets). A target kind nobody delivers is
logged as not delivered instead of failing the sender's PutEvents.

Written for moto 5.2.1: `register` refuses another version (it wraps `Rule.send_to_targets` and
reads `moto.sns`'s backends).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from . import LOG, require_moto

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType, EventTemplateParser


def register() -> None:
    require_moto("events_targets", "5.2.1")
    from moto.events.models import EventTemplateParser, Rule
    from moto.sns.models import sns_backends

    previous = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: EventMessageType, transform_input: bool = True) -> None:
        topics = [t for t in self.targets if t["Arn"].split(":")[2] == "sns"]
        others = [t for t in self.targets if t not in topics]
        if topics and self.event_pattern.matches_event(original_event):
            for target in topics:
                message = _message(target, original_event, EventTemplateParser, transform_input)
                _, _, _, region, account, _ = target["Arn"].split(":", 5)
                sns_backends[account][region].publish(message=message, arn=target["Arn"])
        if not others:
            return None
        saved = self.targets
        self.targets = others
        try:
            return previous(self, original_event, transform_input)
        except NotImplementedError:
            LOG.warning(
                "events: rule %s has a target kind the emulator does not deliver to: %s",
                self.name,
                [t["Arn"] for t in others],
            )
            return None
        finally:
            self.targets = saved

    Rule.send_to_targets = send_to_targets


def _message(target: dict, event: dict, parser: type[EventTemplateParser], transform_input: bool) -> str:
    if "Input" in target:
        return target["Input"]
    if transform_input and target.get("InputTransformer"):
        transformer = target["InputTransformer"]
        parsed = parser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return parsed if isinstance(parsed, str) else json.dumps(parsed)
    return json.dumps(event, default=str)
