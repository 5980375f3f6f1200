"""`mmp heal`: put back, unattended, the protection the policies of this checkout declare,
where it only restores or tightens it; every other drift is left, and said with why
(reconciler.planning.heal chooses).

It is apply with a narrower plan and no prompt: the same one-run lock, journal, signal
handling, check before each write, verification, recovery and exit codes (0, 1, 3, 4), by
the same executor; but 4 (on its one exit line, and in its journal's apply-end) while a
declared scope is left without a config, and a create is sent only after a read of that
scope of its own confirms it has none (reconciler.commands.healconfirm). Every file heal
reads must be committed: the policies and the guardrails beside them. Each healed step is
journaled as a `heal` record (scope, reason, each field from what to what) before anything
is sent. Unless guardrails.yaml enables healing, it refuses before reading any venue (exit
1) and says what to add.

Run by the heal job (`mmp github heal`), it also checks before each step that the heal
branch has not moved since its policies were read, and writes nothing more once it has, or
once that cannot be known (reconciler.commands.healbranch). On a terminal it asks no one:
policies are reviewed once they are on the heal branch's upstream, so a HEAD with commits
that are not there (as the clone last fetched it) is refused before anything is read, and
a branch with no upstream heals with a note that heal cannot tell (`pushed`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from reconciler.apply import recovery, runlock
from reconciler.apply.executor import BEFORE_STEP, ApplyResult, Outcome
from reconciler.apply.interrupt import restore_defaults
from reconciler.apply.journal import Journal, who
from reconciler.commands import healscope
from reconciler.commands.healbranch import BranchWatch, installed
from reconciler.commands.healconfirm import confirmed_creates, said_empty
from reconciler.commands.run import (
    MEANINGS,
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
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.core.secrets import redact
from reconciler.planning import provenance
from reconciler.planning.heal import Healing, Why, outside_filter, select, taken_away
from reconciler.planning.plan import Action
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
    if args.report is not None:
        outside(args.report, args.policies)
        writable(args.report)
    desired, targets, selection = _plan_now(args)
    rules = guards.load(args.policies, desired)
    if not rules.heal.enabled:
        raise HealRefused(refusal(args.policies))
    targets = healscope.covered(targets, rules.heal)  # the others are never read
    filtered = healscope.Filtered.of(desired, selection, targets, rules.heal)
    made = checkout(args.policies, rules.heal.branch, args.sandbox)
    watch = installed()
    if watch is not None and (problem := watch.begin(rules.heal.branch, made.commit)):
        raise HealRefused(problem)
    if watch is None and made.commit is not None:  # the heal job asks GitHub instead
        pushed(args.policies, rules.heal.branch, made.commit)
    with runlock.RunLock(paths.state_dir(args.policies), "heal"):
        journal = HealJournal(journal_path(args), policies=paths.policies_id(args.policies))
        journal.kind = "heal"
        runs = _unfinished(args, journal.path, holding=True)
        _wait_for_landing(runs)
        try:
            planned = (desired, targets, selection)
            return _heal(args, planned, (rules, filtered), (journal, made), runs)
        finally:
            restore_defaults()


def outside(report: Path, policies: Path) -> None:
    """--report never names a file heal reads (a policy, guardrails.yaml): it would be
    overwritten with the report (red team 3), through a symbolic link too."""
    folder = (policies if policies.is_dir() else policies.parent).resolve()
    target = report.resolve()
    if target == policies.resolve() or target.is_relative_to(folder):
        raise HealRefused(
            f"--report {report} is in the policies folder {folder}: the report would replace "
            "a file heal reads; nothing was read or sent. Pass --report PATH outside it"
        )


def writable(report: Path) -> None:
    """--report names a file heal can write: checked before anything is read or sent (a
    heal that wrote must never end in a failure to write its report)."""
    try:
        if report.exists() and not report.is_file():
            raise IsADirectoryError(0, "not a regular file")
        report.parent.mkdir(parents=True, exist_ok=True)
        existed = report.exists()
        with report.open("a", encoding="utf-8"):
            pass
        if not existed:
            report.unlink()
    except OSError as exc:
        raise HealRefused(
            f"the report {report} cannot be written ({exc.strerror or exc}); nothing was read "
            "or sent. Pass --report PATH naming a file in a folder you can write"
        ) from None


class HealJournal(Journal):
    """Apply's journal, whose `apply-end` records heal's exit code (`ending`, from the step
    outcomes and apply's code): 4 while a declared scope is left without a config, whatever
    the steps came to, so the journal and the process say the same."""

    ending: Callable[[Mapping[str, str], int], int] | None = None

    def write(self, event: str, **fields: Any) -> None:
        if event == "apply-end" and self.ending is not None:
            fields["exit_code"] = self.ending(fields.get("outcomes", {}), fields["exit_code"])
        super().write(event, **fields)


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
    if made.dirty:  # the guardrails beside a policy file too: they may enable healing
        files = provenance.changed(policies)
        shown = f" ({', '.join(files[:5])}{', …' if len(files) > 5 else ''})" if files else ""
        problems.append(f"the policies at {made.policies} have uncommitted changes{shown}")
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


def pushed(policies: Path, branch: str, commit: str) -> None:
    """On a terminal, policies are reviewed once their commit is on the branch's upstream (the
    remote branch reviews merge into), as this clone last fetched it; nothing is asked of the
    remote. HEAD with commits that are not there is refused (exit 1, nothing read or sent),
    as is a clone where git cannot tell. A branch with no upstream (a repository of this
    machine only) heals, said: heal cannot tell whether the commit was reviewed."""
    found = provenance.upstream(policies, branch)
    tracked = f" `{found.name}`" if found.name else ""
    if found.ahead is None:
        raise HealRefused(
            f"git could not tell whether commit {commit[:12]} is on the upstream{tracked} of "
            f"`{branch}`: nothing was read or sent. `mmp heal` writes, unattended, only "
            "policies reviewed and merged there; fetch it (`git fetch`) and run it again"
        )
    if not found.name:
        console.warn(
            f"mmp: note: `{branch}` has no upstream branch, so heal cannot tell whether commit "
            f"{commit[:12]} was reviewed: it heals from this checkout as it is"
        )
        return
    if found.ahead:
        raise HealRefused(
            f"HEAD has {found.ahead} commit(s) that are not on `{found.name}`, the upstream of "
            f"`{branch}` (as this clone last fetched it): they are not reviewed until they are "
            "merged there; nothing was read or sent. `mmp heal` writes, unattended, only "
            f"reviewed policies: have them reviewed and merged into `{found.name}`, pull, "
            "and run it again (or heal from a clone of it)"
        )


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
    ruled: tuple[guards.Guardrails, healscope.Filtered],
    journaled: tuple[HealJournal, Provenance],
    runs: list[recovery.Unfinished],
) -> int:
    desired, targets, selection = planned
    rules, filtered = ruled
    journal, where = journaled
    found: list[Healing] = []
    unread: list[healscope.Unchecked] = []  # covered accounts that could not be read
    watch = installed()  # the heal job's check that its branch has not moved, if any

    def judged(live: list[LiveAccount]) -> Healing:
        # no restores: a scope the policies do not declare is never healed, only left (loud)
        made = _made_plan(args, desired, live, selection, targets, runs, restore=False)
        had = recovery.baseline(runs, live)
        healing = select(made, desired, rules, had, capabilities(), took(runs, had))
        healing = healscope.with_unchecked(healing, unread)
        healing = taken_away(healing, recovery.restores(runs, desired, live))
        return outside_filter(healing, filtered.bare(live, desired), filtered.said)

    async def work(connections: Connections) -> ApplyResult | None:
        live, failed = await healscope.read_each(connections, targets, desired)
        unread.extend([*failed, *filtered.unread])  # the latter: not read, by the filter
        said_empty(live, desired, recovery.baseline(runs, live), journal)
        healing = judged(live)
        if any(item.step.action is Action.CREATE for item in healing.healed):
            live, healing = await confirmed_creates(connections, live, healing, judged, journal)
        found.append(healing)
        journal.ending = lambda outcomes, code: _final(healing, outcomes, code)
        out(text(healing, args.colour))
        bare = [item.step for item in healing.left if item.why is Why.FILTERED]
        out(filtered.line(bare, failed))
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
    healing = found[0] if found else None
    if result is not None:
        outcomes = {str(r.step.key): r.outcome.value for r in result.results}
        assert healing is not None
        code = _final(healing, outcomes, result.exit_code)
        _report(result, "Heal", ending=(code, _meaning(healing, outcomes, result.exit_code)))
    else:
        code = 0 if healing is None else _unprotected(healing)
    code = healscope.exit_code(code, unread)  # said here only if no exit line said 4
    if args.report is not None and healing is not None:
        _save(args.report, healing, result, code, watch)
    return code


def took(runs: list[recovery.Unfinished], had: Mapping[ScopeKey, MmpConfig]) -> dict[ScopeKey, str]:
    """The unfinished run that took each baseline config away, as people name it."""
    named: dict[ScopeKey, str] = {}
    for run in runs:
        for item in run.scopes:
            if item.key in had and item.before is not None:
                named.setdefault(item.key, f"{run.kind} run {run.run}")
    return named


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
    """With nothing to heal: 4, said on one line, when a declared scope heal left has no
    config live (held, a guardrail, outside the filter) or an account was not checked: never
    0 while one may be unprotected, as `mmp status`."""
    bare = healing.bare()
    said = []
    if bare:
        said.append(
            f"{len(bare)} {'' if healing.undeclared_bare() else 'declared '}scope(s) left "
            "without MMP, which heal did not put back: "
            f"{', '.join(bare)} (why: above)"
        )
    said += _not_checked(healing)
    if not said:
        return 0
    out(f"Exit 4: {'; '.join(said)}. A person must act.\n")
    return 4


def _not_checked(healing: Healing) -> list[str]:
    """The exit line's words for the accounts heal did not check, and for a filter that
    left a scope out: [] when there is neither."""
    said = []
    if healing.unchecked:
        named = ", ".join(name for name, _ in healing.unchecked)
        said.append(
            f"{len(healing.unchecked)} account(s) not checked ({named}): what they hold is "
            "not known, so a scope of theirs may be unprotected (`mmp status`)"
        )
    outside = any(item.why is Why.FILTERED for item in healing.left)
    given = healscope.filter_said(healing.plan.filters)
    if given and (outside or healing.unchecked):
        said.append(f"this heal was filtered ({given}): no declared scope outside it was healed")
    return said


def _bare(healing: Healing, outcomes: Mapping[str, str]) -> list[str]:
    """The declared scopes without a config after the run: those heal left (bare()), and
    each it was to create that did not end applied (kept without one, held, moved, not run:
    not known to have one)."""
    created = [
        str(item.step.key)
        for item in healing.healed
        if item.step.action is Action.CREATE
        and outcomes.get(str(item.step.key)) != Outcome.APPLIED.value
    ]
    return [*healing.bare(), *created]


def _final(healing: Healing, outcomes: Mapping[str, str], code: int) -> int:
    """Heal's exit code: apply's, but 4 while a declared scope may be without a config, or
    an account it covers could not be read (what it holds is not known)."""
    return 4 if _bare(healing, outcomes) or healing.unchecked else code


def _meaning(healing: Healing, outcomes: Mapping[str, str], code: int) -> str:
    """What heal's exit code says, once, on its last line."""
    bare = _bare(healing, outcomes)
    said = []
    if bare:
        said.append(
            f"{len(bare)} scope(s) may be without MMP after heal: {', '.join(bare)} (why: above)"
        )
    said += _not_checked(healing)
    if not said:
        return MEANINGS[code]
    told = "; ".join(said) + ". A person must act"
    return f"{MEANINGS[code]}; and {told}" if code == 4 else told


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
    data["bare"] = _bare(healing, {scope: outcome for scope, (outcome, _) in ended.items()})
    if watch is not None:
        data["branch"] = watch.to_data()
    try:  # checked writable before anything was read; a heal that wrote never crashes here
        path.parent.mkdir(parents=True, exist_ok=True)
        text = redact(json.dumps(data, indent=2, sort_keys=True)) + "\n"
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        console.warn(
            f"mmp: the report {path} could not be written ({exc.strerror or exc}); heal "
            f"ended with exit {code} as said above, and the journal has every step"
        )
