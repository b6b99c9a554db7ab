"""
IAM policy evaluation for one request: identity policies, the resource's own policy, conditions.

What moto lacks: moto 5.2.1's access control (moto/iam/access_control.py, on only with
INITIAL_NO_AUTH_ACTION_COUNT) matches actions and resources of identity policies, ignores resource
policies, and evaluates conditions only as far as its own StringEquals check; it also resolves
resources only for S3, SQS, IAM and STS (every other request is judged against "*").

What this does: `decide` follows AWS's documented evaluation logic for a same-account request
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any policy wins; otherwise an Allow in the identity policies or in the
resource policy naming the principal allows; KMS is the exception AWS documents, where the key
policy must allow the principal itself or delegate to the account ("arn:aws:iam::<acct>:root")
before identity policies count
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).

Condition operators: those the platform's policies use (Bool, Null, StringEquals, StringNotEquals,
StringLike, StringNotLike, StringEqualsIgnoreCase, ArnEquals, ArnNotEquals, ArnLike, ArnNotLike,
each with IfExists). A condition with any other operator never matches, so it can grant nothing
and deny nothing; the decision names it, so a policy needing it shows up as a denial to read.

Pure functions, no moto import: tested directly (tests/test_iam_policy.py).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

OPERATORS = {
    "Bool",
    "Null",
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: `*` any run of characters, `?` one character; nothing else is special."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def condition_holds(operator: str, key: str, expected: Any, context: dict) -> bool:
    if_exists = operator.endswith("IfExists")
    op = operator[: -len("IfExists")] if if_exists else operator
    if op not in OPERATORS:
        return False
    wanted = [str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(expected)]
    actual = _lookup(context, key)
    if op == "Null":
        return (actual is None) == (wanted[0].lower() == "true")
    if actual is None:
        # AWS: a missing key satisfies ...IfExists and the negated operators, nothing else.
        return if_exists or op in _NEGATED
    values = [str(a).lower() if isinstance(a, bool) else str(a) for a in as_list(actual)]
    if op == "Bool":
        return any(v.lower() in [w.lower() for w in wanted] for v in values)
    if op in ("StringEquals", "ArnEquals"):
        return any(v in wanted for v in values)
    if op in ("StringNotEquals", "ArnNotEquals"):
        return all(v not in wanted for v in values)
    if op == "StringEqualsIgnoreCase":
        return any(v.lower() in [w.lower() for w in wanted] for v in values)
    if op in ("StringLike", "ArnLike"):
        return any(wildcard_match(w, v) for w in wanted for v in values)
    if op in ("StringNotLike", "ArnNotLike"):
        return not any(wildcard_match(w, v) for w in wanted for v in values)
    return False


def _lookup(context: dict, key: str) -> Any:
    # Condition keys are case-insensitive in AWS.
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def _principal_matches(principal: Any, principal_arn: str, role_arn: str, account: str) -> bool:
    """Does a resource policy's Principal name this caller (an assumed-role session of role_arn)?"""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in as_list(principal.get("AWS")):
        if value in ("*", principal_arn, role_arn, account, f"arn:aws:iam::{account}:root"):
            return True
    return False


def _account_root(principal: Any, account: str) -> bool:
    if not isinstance(principal, dict):
        return False
    return any(v in (account, f"arn:aws:iam::{account}:root") for v in as_list(principal.get("AWS")))


@dataclass
class Statement:
    sid: str
    effect: str
    source: str  # which policy: "identity:<name>" or "resource"


@dataclass
class Decision:
    allowed: bool
    reason: str
    matched: list = field(default_factory=list)
    unsupported: list = field(default_factory=list)


def _statement_applies(stmt: dict, action: str, resource: str, context: dict, unsupported: list) -> bool:
    if "NotAction" in stmt:
        if any(wildcard_match(a, action, ignore_case=True) for a in as_list(stmt["NotAction"])):
            return False
    elif not any(wildcard_match(a, action, ignore_case=True) for a in as_list(stmt.get("Action"))):
        return False
    if "NotResource" in stmt:
        if any(wildcard_match(r, resource) for r in as_list(stmt["NotResource"])):
            return False
    elif "Resource" in stmt and not any(wildcard_match(r, resource) for r in as_list(stmt["Resource"])):
        return False
    for operator, pairs in (stmt.get("Condition") or {}).items():
        base = operator[: -len("IfExists")] if operator.endswith("IfExists") else operator
        for prefix in ("ForAnyValue:", "ForAllValues:"):
            if base.startswith(prefix):
                base = base[len(prefix) :]
        if base not in OPERATORS:
            unsupported.append(operator)
            return False
        for key, expected in pairs.items():
            if not condition_holds(operator.split(":")[-1], key, expected, context):
                return False
    return True


def _documents(policies: Iterable[tuple[str, Any]]) -> Iterable[tuple[str, dict]]:
    for name, doc in policies:
        if isinstance(doc, str):
            doc = json.loads(doc)
        for stmt in as_list(doc.get("Statement")):
            yield name, stmt


def decide(
    *,
    principal_arn: str,
    role_arn: str,
    account: str,
    action: str,
    resource: str,
    context: dict,
    identity_policies: Iterable[tuple[str, Any]],
    resource_policy: Any = None,
    key_policy: bool = False,
) -> Decision:
    """
    The decision for `principal_arn` (a session of `role_arn` in `account`) doing `action` on
    `resource`. `identity_policies` are (name, document) pairs; `resource_policy` the resource's
    own policy (document or JSON string) or None; `key_policy` marks it as a KMS key policy.
    """
    unsupported: list = []
    identity_allow: list = []
    resource_allow: list = []
    root_delegation = False
    for name, stmt in _documents(identity_policies):
        if not _statement_applies(stmt, action, resource, context, unsupported):
            continue
        label = f"{name}/{stmt.get('Sid', '')}".rstrip("/")
        if stmt.get("Effect") == "Deny":
            return Decision(False, f"explicit deny in identity policy {label}", [label], unsupported)
        identity_allow.append(label)
    if resource_policy:
        for _, stmt in _documents([("resource", resource_policy)]):
            principal = stmt.get("Principal")
            if "NotPrincipal" in stmt or not _principal_matches(principal, principal_arn, role_arn, account):
                continue
            if not _statement_applies(stmt, action, resource, context, unsupported):
                continue
            label = f"resource policy/{stmt.get('Sid', '')}".rstrip("/")
            if stmt.get("Effect") == "Deny":
                return Decision(False, f"explicit deny in {label}", [label], unsupported)
            if key_policy and _account_root(principal, account):
                root_delegation = True  # the key lets IAM policies decide
            else:
                resource_allow.append(label)
    if key_policy:
        if resource_allow:
            return Decision(True, "allowed by the key policy", resource_allow, unsupported)
        if root_delegation and identity_allow:
            return Decision(
                True, "allowed by identity policy (key policy delegates to IAM)", identity_allow, unsupported
            )
        why = (
            "the key policy does not delegate to IAM"
            if identity_allow
            else "no identity policy allows it and the key policy does not name the principal"
        )
        return Decision(False, f"implicit deny: {why}", [], unsupported)
    if identity_allow or resource_allow:
        return Decision(True, "allowed", identity_allow + resource_allow, unsupported)
    return Decision(False, "implicit deny: no identity-based or resource-based policy allows it", [], unsupported)


def trust_allows(trust_policy: Any, service_principal: str, context: dict) -> Decision:
    """Does the role's trust policy let `service_principal` (e.g. glue.amazonaws.com) call sts:AssumeRole?"""
    unsupported: list = []
    allowed: list = []
    for _, stmt in _documents([("trust", trust_policy)]):
        principal = stmt.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if principal != "*" and service_principal not in services:
            continue
        if not _statement_applies(stmt, "sts:AssumeRole", "*", context, unsupported):
            continue
        if stmt.get("Effect") == "Deny":
            return Decision(False, "explicit deny in the trust policy", [], unsupported)
        allowed.append(stmt.get("Sid", "trust"))
    if allowed:
        return Decision(True, "allowed by the trust policy", allowed, unsupported)
    return Decision(False, f"the trust policy does not let {service_principal} assume the role", [], unsupported)
