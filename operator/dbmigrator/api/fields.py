"""The building blocks of the API models: patterns, constrained types, the base model (pure).

Keys are camelCase on the wire (`alias_generator=to_camel`); Python code uses snake_case. Cross-field
rules that CEL can express ride along as `x-kubernetes-validations` (`cel_rules`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

VERSION_PATTERN = r"^[0-9]+$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
OPTIONAL_DNS_SUBDOMAIN_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"
)
CONFIG_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
CHECK_NAME_PATTERN = r"^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$"

Version = Annotated[str, StringConstraints(pattern=VERSION_PATTERN, min_length=1, max_length=18)]
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, max_length=63)]
DnsSubdomain = Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)]
Quantity = int | str
OnFailure = Literal["None", "Down", "Restore"]
Expectation = Literal["allowed", "empty", "denied"]
Phase = Literal[
    "Pending",
    "Planning",
    "AwaitingApproval",
    "BackingUp",
    "Rehearsing",
    "Migrating",
    "Validating",
    "RollingBack",
    "Succeeded",
    "Failed",
    "Suspended",
]
PhaseState = Literal["Pending", "Running", "Succeeded", "Failed", "Skipped"]
Operation = Literal["upgrade", "rollback", "restore"]
RunOperation = Literal["upgrade", "rollback"]
RunOutcome = Literal["Running", "Succeeded", "Failed", "Superseded"]


def cel_rules(*rules: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    """`json_schema_extra` with CEL rules (rule, message[, fieldPath]): x-kubernetes-validations."""
    out: list[dict[str, str]] = []
    for rule in rules:
        entry = {"rule": rule[0], "message": rule[1]}
        if len(rule) == 3:
            entry["fieldPath"] = rule[2]  # where kubectl reports the error
        out.append(entry)
    return {"x-kubernetes-validations": out}


class ApiModel(BaseModel):
    """The base of every API model: camelCase on the wire, frozen, unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )
