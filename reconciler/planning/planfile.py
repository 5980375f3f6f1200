"""Saved plans: `mmp plan --out FILE`, then `mmp apply FILE` (or `mmp show FILE`).

The file records the plan and everything it was made from: the live state it read, the
desired state's digest, the guardrails it was checked against (and their trips, in the
plan), where it was made (commit, uncommitted policies, policies folder), the mode
(sandbox or venues) and an expiry. Apply trusts none of it that it can derive itself: see
reconciler.planning.approved. The file holds no secret: credentials are environment-variable
prefixes only, and every value passes through redaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.core.errors import PlanFileError
from reconciler.core.model import LiveAccount
from reconciler.core.secrets import redact
from reconciler.core.units import dumps_exact, loads_exact
from reconciler.planning.plan import Plan
from reconciler.planning.provenance import Provenance
from reconciler.policy.desired import DesiredState

KIND = "mmp-reconciler/plan"
FILE_VERSION = 2
DEFAULT_EXPIRY = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    live: list[LiveAccount]  # the live state the plan was made from
    desired: dict[str, Any]  # the desired state's data, to name what changed since
    desired_digest: str
    guardrails: dict[str, Any]  # {"file": path or None, "rules": {...}}
    provenance: Provenance
    created_at: dt.datetime
    expires_at: dt.datetime

    @property
    def sandbox(self) -> bool:
        return self.plan.sandbox


def save(
    path: Path,
    plan: Plan,
    desired: DesiredState,
    live: list[LiveAccount],
    guardrails: dict[str, Any],
    provenance: Provenance,
    *,
    expiry: dt.timedelta = DEFAULT_EXPIRY,
    now: dt.datetime | None = None,
) -> None:
    now = now or dt.datetime.now(dt.UTC)
    data = {
        "kind": KIND,
        "file_version": FILE_VERSION,
        "created_at": now.isoformat(),
        "expires_at": (now + expiry).isoformat(),
        "provenance": provenance.to_data(),
        "desired_digest": desired.digest(),
        "desired": desired.to_data(),
        "guardrails": guardrails,
        "live": [account.to_data() for account in live],
        "plan": plan.to_data(),
    }
    text = redact(dumps_exact(data, indent=2, sort_keys=True)) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(
            f"{path}: cannot write the plan ({exc.strerror or exc}); --out takes a file in a "
            "folder that exists and can be written"
        ) from None


def load(path: Path) -> SavedPlan:
    try:
        data: Any = loads_exact(path.read_bytes())
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise ValueError("not an mmp-reconciler plan file")
        if data.get("file_version") != FILE_VERSION:
            raise ValueError(
                "it was saved by another version of mmp (file version "
                f"{data.get('file_version', 1)}, this one reads {FILE_VERSION}): run plan again"
            )
        return SavedPlan(
            plan=Plan.from_data(data["plan"]),
            live=[LiveAccount.from_data(account) for account in data["live"]],
            desired=dict(data["desired"]),
            desired_digest=str(data["desired_digest"]),
            guardrails=dict(data["guardrails"]),
            provenance=Provenance.from_data(data["provenance"]),
            created_at=_when(data["created_at"]),
            expires_at=_when(data["expires_at"]),
        )
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read plan file ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise PlanFileError(f"{path}: not a valid plan file ({exc})") from None


def _when(text: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError(f"time {text} has no time zone")
    return moment
