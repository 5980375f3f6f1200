"""Saved plans: `mmp plan --out FILE` then `mmp apply FILE`.

The file records the plan (with the live fingerprint it was made from), the accounts it
covers, the desired state, the git commit and an expiry. It holds no secret: credentials are
environment-variable prefixes only.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.desired import AccountTarget, DesiredState, Location
from reconciler.errors import PlanFileError
from reconciler.plan import Plan
from reconciler.secrets import redact
from reconciler.units import dumps_exact, loads_exact

KIND = "mmp-reconciler/plan"
DEFAULT_EXPIRY = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    targets: list[AccountTarget]
    desired_digest: str
    commit: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    sandbox: bool


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def save(
    path: Path,
    plan: Plan,
    desired: DesiredState,
    *,
    sandbox: bool,
    expiry: dt.timedelta = DEFAULT_EXPIRY,
    now: dt.datetime | None = None,
) -> None:
    now = now or dt.datetime.now(dt.UTC)
    accounts = set(plan.accounts)
    data = {
        "kind": KIND,
        "created_at": now.isoformat(),
        "expires_at": (now + expiry).isoformat(),
        "commit": git_commit(),
        "sandbox": sandbox,
        "desired_digest": desired.digest(),
        "desired": desired.to_data(),
        "targets": [
            {
                "name": t.name,
                "venue": t.venue,
                "environment": t.environment,
                "base_url": t.base_url,
                "credentials": t.credentials,
                "where": str(t.where),
            }
            for t in sorted(desired.accounts.values(), key=lambda t: t.name)
            if t.name in accounts
        ],
        "plan": plan.to_data(),
    }
    path.write_text(redact(dumps_exact(data, indent=2, sort_keys=True)) + "\n", encoding="utf-8")


def load(path: Path) -> SavedPlan:
    try:
        data: Any = loads_exact(path.read_bytes())
        if data.get("kind") != KIND:
            raise ValueError("not an mmp-reconciler plan file")
        targets = [
            AccountTarget(
                t["name"],
                t["venue"],
                t["environment"],
                t["base_url"],
                t["credentials"],
                Location(t["where"], 0, 0),
            )
            for t in data["targets"]
        ]
        return SavedPlan(
            plan=Plan.from_data(data["plan"]),
            targets=targets,
            desired_digest=data["desired_digest"],
            commit=data.get("commit"),
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            expires_at=dt.datetime.fromisoformat(data["expires_at"]),
            sandbox=bool(data["sandbox"]),
        )
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read plan file ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PlanFileError(f"{path}: not a valid plan file ({exc})") from None


def check_usable(
    saved: SavedPlan, path: Path, *, sandbox: bool, now: dt.datetime | None = None
) -> None:
    now = now or dt.datetime.now(dt.UTC)
    if now >= saved.expires_at:
        raise PlanFileError(
            f"{path}: the plan expired at {saved.expires_at.isoformat()}; run plan again"
        )
    if saved.sandbox != sandbox:
        made = "with" if saved.sandbox else "without"
        raise PlanFileError(f"{path}: the plan was made {made} --sandbox; apply it the same way")
    head = git_commit()
    if saved.commit and head and saved.commit != head:
        raise PlanFileError(
            f"{path}: the plan was made at commit {saved.commit[:12]} but the checkout is at "
            f"{head[:12]}; run plan again"
        )
