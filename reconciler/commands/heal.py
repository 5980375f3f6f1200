"""`mmp heal`: put back, unattended, the protection the policies of this checkout declare,
where it only restores or tightens it; every other drift is left, and said with why
(reconciler.planning.heal chooses).

It is apply with a narrower plan and no prompt: the same one-run lock, journal, signal
handling, check before each write, verification, recovery and exit codes (0, 1, 3, 4), by
the same executor. Each healed step is journaled as a `heal` record (scope, reason, each
field from what to what) before anything is sent. Unless guardrails.yaml enables healing,
it refuses before reading any venue (exit 1) and says what to add.

Run by the heal job (`mmp github heal`), it also checks before each step that the heal
branch has not moved since its policies were read, and writes nothing more once it has, or
once that cannot be known (reconciler.commands.healbranch); on a terminal it does not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from reconciler.apply import recovery, runlock
from reconciler.apply.executor import BEFORE_STEP, ApplyResult
from reconciler.apply.interrupt import restore_defaults
from reconciler.apply.journal import Journal, who
from reconciler.commands import healscope
from reconciler.commands.healbranch import BranchWatch, installed
from reconciler.commands.run import (
    _execute,
    _made_plan,
    _plan_now,
    _recovered,
    _report,
    _unfinished,
    _wait_for_landing,
    journal_path,
    run_live,
)
from reconciler.core import console, paths
from reconciler.core.console import out
from reconciler.core.errors import ReconcilerError
from reconciler.core.secrets import redact
from reconciler.planning import provenance
from reconciler.planning.heal import Healing, select
from reconciler.planning.provenance import Provenance
from reconciler.planning.render.heal import text
from reconciler.planning.selection import Selection
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredState
from reconciler.policy.healing import ENABLE
from reconciler.venues import capabilities
from reconciler.venues.live import Connections


class HealRefused(ReconcilerError):
    """Healing is not enabled by the policies: nothing was read or sent."""


def heal(args: argparse.Namespace) -> int:
    desired, targets, selection = _plan_now(args)
    rules = guards.load(args.policies, desired)
    if not rules.heal.enabled:
        raise HealRefused(refusal(args.policies))
    targets = healscope.covered(targets, rules.heal)  # the others are never read
    made = checkout(args.policies, rules.heal.branch, args.sandbox)
    watch = installed()
    if watch is not None and (problem := watch.begin(rules.heal.branch, made.commit)):
        raise HealRefused(problem)
    with runlock.RunLock(paths.state_dir(args.policies), "heal"):
        journal = Journal(journal_path(args), policies=paths.policies_id(args.policies))
        journal.kind = "heal"
        runs = _unfinished(args, journal.path, holding=True)
        _wait_for_landing(runs)
        try:
            return _heal(args, (desired, targets, selection), rules, (journal, made), runs)
        finally:
            restore_defaults()


def checkout(policies: Path, branch: str, sandbox: bool) -> Provenance:
    """Where the policies are: heal writes only the reviewed policies of the heal branch.
    Policies with uncommitted changes, or a checkout of another branch, are refused (exit 1,
    nothing read or sent). Outside Git there is no commit to name: refused, but the sandbox
    (the example desk run from the wheel) heals with a note."""
    made = Provenance.of(policies)
    if made.commit is None:
        if not sandbox:
            raise HealRefused(
                f"the policies at {policies} are not in a Git repository; nothing was read or "
                f"sent. `mmp heal` writes only reviewed, committed policies (of `{branch}`)"
            )
        console.note("the policies are not in a Git repository: the sandbox heals anyway")
        return made
    problems = []
    if made.dirty:
        problems.append(f"the policies at {made.policies} have uncommitted changes")
    on = provenance.branch(policies)
    if on != branch:
        problems.append(f"the checkout is {f'of branch `{on}`' if on else 'a detached HEAD'}")
    if problems:
        raise HealRefused(
            f"{'; '.join(problems)}: nothing was read or sent. `mmp heal` writes, unattended, "
            f"only the reviewed policies of `{branch}` (guardrails.yaml `heal: branch:`), "
            "committed: commit, or check that branch out, and run it again"
        )
    return made


def refusal(policies: Path) -> str:
    """Why heal writes nothing here, and the reviewed setting that would let it."""
    folder = policies if policies.is_dir() else policies.parent
    where = str(guards.location(policies) or folder / guards.FILE)
    return (
        "healing is not enabled by these policies; nothing was read or sent. `mmp heal` puts "
        "back, unattended, only protection the reviewed policies declare (creates, and "
        "updates in which every field tightens); enable it in a reviewed pull request by "
        f"adding to {where}:\n\n{ENABLE}\n"
        "(narrow it with `venues: [NAME]` or `accounts: [NAME]` under `heal:`), then run "
        "`mmp workflows --write`: the drift workflow gets its heal job"
    )


def _heal(
    args: argparse.Namespace,
    planned: tuple[DesiredState, list[AccountTarget], Selection],
    rules: guards.Guardrails,
    journaled: tuple[Journal, Provenance],
    runs: list[recovery.Unfinished],
) -> int:
    desired, targets, selection = planned
    journal, where = journaled
    found: list[Healing] = []
    unread: list[healscope.Unchecked] = []  # covered accounts that could not be read
    watch = installed()  # the heal job's check that its branch has not moved, if any

    async def work(connections: Connections) -> ApplyResult | None:
        live, failed = await healscope.read_each(connections, targets, desired)
        unread.extend(failed)
        # no restores: a scope the policies do not declare is never healed, only named
        made = _made_plan(args, desired, live, selection, targets, runs, restore=False)
        had = recovery.baseline(runs, live)
        healing = healscope.with_unchecked(
            select(made, desired, rules, had, capabilities()), failed
        )
        found.append(healing)
        out(text(healing, args.colour))
        if not healing.healed:
            out("Nothing to heal.\n")
            _recovered(journal, runs, {}, live, desired)
            return None
        _journal(healing, journal, where)
        plan = healing.plan
        token = BEFORE_STEP.set(_branch_check(watch, journal)) if watch else None
        try:
            return await _execute(plan, connections, journal, live, runs, desired, word="Heal")
        finally:
            if token is not None:
                BEFORE_STEP.reset(token)

    result = run_live(args, targets, desired, work)
    code = 0 if result is None else _report(result, "Heal")
    if code == 0 and found:
        code = _unprotected(found[0])
    code = healscope.exit_code(code, unread)
    if args.report is not None and found:
        _save(args.report, found[0], result, code, watch)
    return code


def _branch_check(watch: BranchWatch, journal: Journal) -> Callable[[], Awaitable[str]]:
    """The executor's BEFORE_STEP: the watch's answer; the first that stops the run is said
    and journaled (`branch-moved` or `branch-unknown`) as it is found."""
    told: list[str] = []

    async def before_step() -> str:
        why = await watch.check()
        if why and not told:
            told.append(why)
            if watch.moved_to:
                journal.write(
                    "branch-moved", branch=watch.branch, read_at=watch.expected, now=watch.moved_to
                )
            else:
                journal.write(
                    "branch-unknown", branch=watch.branch, read_at=watch.expected, why=watch.unknown
                )
            with contextlib.suppress(console.OutputError):  # the journal and the report have it
                out(watch.said() + "\n")
        return why

    return before_step


def _unprotected(healing: Healing) -> int:
    """4, said, when a declared scope heal left has no config live (held, a guardrail, not
    covered by the setting): never 0 while one is unprotected, as `mmp status`."""
    bare = [str(item.step.key) for item in healing.left if item.step.unprotected]
    if not bare:
        return 0
    out(
        f"Exit 4: {len(bare)} declared scope(s) left without MMP, which heal could not put "
        f"back: {', '.join(bare)} (why: above). A person must act.\n"
    )
    return 4


def _journal(healing: Healing, journal: Journal, made: Provenance) -> None:
    """One `heal` record per step, before anything is sent: the scope, why it is healed,
    each field from what to what, and the policies' commit (and whether they were dirty)."""
    for item in healing.healed:
        journal.write(
            "heal",
            scope=str(item.step.key),
            action=item.step.action.value,
            reason=item.reason,
            changes=[change.to_data() for change in item.step.changes],
            commit=made.commit,
            dirty=made.dirty,
            by=who(),
        )


def _save(
    path: Path,
    healing: Healing,
    result: ApplyResult | None,
    code: int,
    watch: BranchWatch | None = None,
) -> None:
    """The report the drift issue is written from: healed (with how each ended), left, and
    (in the heal job) the branch watched and whether it moved."""
    ended = {
        str(r.step.key): (r.outcome.value, r.detail) for r in (result.results if result else [])
    }
    data = {**healing.to_data(ended), "exit_code": code}
    if watch is not None:
        data["branch"] = watch.to_data()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(json.dumps(data, indent=2, sort_keys=True)) + "\n", encoding="utf-8")
