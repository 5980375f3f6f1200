"""The `heal:` section of guardrails.yaml: whether `mmp heal` (and the drift workflow's heal
job) may put back, unattended, the protection the policies declare, and where.

Healing is off unless a reviewed file says otherwise. `venues` and `accounts` narrow it:
a scope is healed only on a listed venue (when venues are listed) and a listed account
(when accounts are listed). Naming a venue mmp does not know, an account the policies do
not declare, or an account whose venue the list of venues leaves out is an error at its
line, as every guardrails mistake is: a narrowing that holds for nothing is a typo.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from reconciler.core.errors import Problem
from reconciler.core.suggest import did_you_mean
from reconciler.policy.desired import DesiredState
from reconciler.policy.loader import LocatedTree

ENABLE = "heal:\n  enabled: true\n"
"""What a guardrails file needs for `mmp heal` to write anything (said by its refusal)."""


class Heal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: StrictBool = Field(
        False,
        description="true: `mmp heal` and the drift workflow put back, unattended, the "
        "declared protection where it only tightens or restores (creates); never loosens, "
        "removes or writes a held scope",
    )
    venues: list[str] = Field(
        default_factory=list, description="heal only these venues (default: every venue)"
    )
    accounts: list[str] = Field(
        default_factory=list, description="heal only these accounts (default: every account)"
    )
    branch: str = Field(
        "main",
        min_length=1,
        description="heal only a checkout of this branch, its policies committed (default: main)",
    )

    def covers(self, venue: str, account: str) -> bool:
        """Whether a scope of this venue and account may be healed."""
        return (
            self.enabled
            and (not self.venues or venue in self.venues)
            and (not self.accounts or account in self.accounts)
        )

    def narrowed(self) -> str:
        """What healing is limited to, for people: '' when it covers the whole desk."""
        said = [f"venues {', '.join(self.venues)}"] if self.venues else []
        said += [f"accounts {', '.join(self.accounts)}"] if self.accounts else []
        return "; ".join(said)


def venue_problems(tree: LocatedTree, heal: Heal, known: set[str]) -> list[Problem]:
    """A venue mmp does not know, said where it is written."""
    return [
        tree.problem(
            ("heal", "venues", index),
            f"`{venue}` is not a venue mmp knows{did_you_mean(venue, known)} "
            f"(known: {', '.join(sorted(known))})",
        )
        for index, venue in enumerate(heal.venues)
        if venue not in known
    ]


def account_problems(tree: LocatedTree, heal: Heal, desired: DesiredState) -> list[Problem]:
    """An account the policies do not declare, or one of a venue the list leaves out; and a
    listed venue that no account heal covers is on (it would never be healed)."""
    found = idle_venue_problems(tree, heal, desired)
    for index, name in enumerate(heal.accounts):
        target = desired.accounts.get(name)
        where = ("heal", "accounts", index)
        if target is None:
            hint = did_you_mean(name, desired.accounts)
            found.append(tree.problem(where, f"`{name}` is not an account of the policies{hint}"))
        elif heal.venues and target.venue not in heal.venues:
            found.append(
                tree.problem(
                    where,
                    f"`{name}` is a {target.venue} account, and heal.venues leaves "
                    f"{target.venue} out: it would never be healed (add {target.venue} to "
                    "heal.venues, or take the account out)",
                )
            )
    return found


def idle_venue_problems(tree: LocatedTree, heal: Heal, desired: DesiredState) -> list[Problem]:
    """With `accounts` listed, a listed venue of the policies none of them is on: heal would
    never heal it (a venue no account of the policies is on is left to venue_problems and
    the desk: it may be an account yet to come)."""
    if not heal.accounts:
        return []
    used = {target.venue for target in desired.accounts.values()}
    covered = {desired.accounts[n].venue for n in heal.accounts if n in desired.accounts}
    return [
        tree.problem(
            ("heal", "venues", index),
            f"`{venue}`: none of heal.accounts ({', '.join(heal.accounts)}) is a {venue} "
            f"account, so heal would never heal {venue}: take it out of heal.venues, or add "
            f"a {venue} account to heal.accounts",
        )
        for index, venue in enumerate(heal.venues)
        if venue in used and venue not in covered
    ]


def workflow_problem(tree: LocatedTree, heal: Heal, default: str = "main") -> Problem | None:
    """The generated workflows heal only from `default`: the drift schedule runs on the
    repository's default branch, and apply applies what is merged there. Another heal
    branch would be skipped by every scheduled run: an error at `heal: branch:`."""
    if not heal.enabled or heal.branch == default:
        return None
    return tree.problem(
        ("heal", "branch"),
        f"`{heal.branch}`: the generated workflows heal from `{default}` only. The drift "
        f"workflow's schedule runs on the repository's default branch (`{default}`, where the "
        f"apply workflow applies what is merged), so a heal job for `{heal.branch}` would be "
        "skipped by every scheduled run and heal nothing. Take `branch:` out (heal from "
        f"`{default}`), or run `mmp heal` from a checkout of `{heal.branch}` on a scheduler "
        "of your own, without the generated workflows",
    )
