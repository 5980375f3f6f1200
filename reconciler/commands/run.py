"""The subcommands that talk to venues: plan, apply, unfreeze, status, import. Each returns
its exit code. (`validate` lives in reconciler.commands.validate: it must start fast and
needs none of this.)"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from reconciler.apply import recovery, runlock
from reconciler.apply.executor import ApplyResult, Outcome, StepResult, apply_plan
from reconciler.apply.interrupt import Interrupt, answered_yes, restore_defaults
from reconciler.apply.journal import Journal, who
from reconciler.core import console, paths, secrets
from reconciler.core.console import out
from reconciler.core.errors import ApprovalError, PlanFileError, VenueAuthError
from reconciler.core.model import LiveAccount
from reconciler.planning import planfile
from reconciler.planning.approved import check as check_saved
from reconciler.planning.approved import confirm as confirm_saved
from reconciler.planning.plan import Plan
from reconciler.planning.planner import Filters
from reconciler.planning.provenance import Provenance
from reconciler.planning.render import RENDERERS
from reconciler.planning.selection import Selection, named_scope
from reconciler.policy import guards, listed
from reconciler.policy.desired import AccountTarget, DesiredState
from reconciler.policy.validate import load_desired
from reconciler.sandbox.store import Sandbox
from reconciler.venues import VENUES, capabilities, connections
from reconciler.venues.discovery import Unlisted
from reconciler.venues.ledger import Ledger
from reconciler.venues.live import Connections, connect

T = TypeVar("T")


def run_live(
    args: argparse.Namespace,
    targets: list[AccountTarget],
    declared: DesiredState | dict[str, frozenset[str]],
    work: Callable[[Connections], Awaitable[T]],
) -> T:
    """Connect to every target (or its simulator: the sandbox saves each write as it is
    answered, like a venue), run work, close. `declared`: the policies (the underlyings they
    declare, and where: a venue that does not list one is refused there), or just the
    underlyings to read."""
    if isinstance(declared, DesiredState):
        desired: DesiredState | None = declared
        underlyings = declared.declared_underlyings()
    else:
        desired, underlyings = None, declared
    sandbox = (
        Sandbox(VENUES, paths.state_dir(args.policies) / "sandbox.json") if args.sandbox else None
    )
    if sandbox is not None:
        creds = sandbox.credentials(targets)
        transport = sandbox.transport
    else:
        creds = secrets.resolve(targets, connections())
        transport = None

    async def session() -> T:
        ledger = Ledger(paths.state_dir(args.policies) / "ratelimits.json")
        connections = connect(
            targets, VENUES, creds, transport, args.concurrency, underlyings, ledger=ledger
        )
        try:
            return await work(connections)
        finally:
            await connections.aclose()

    try:
        return asyncio.run(session())
    except VenueAuthError as exc:
        raise _explained(exc, targets) from None
    except Unlisted as exc:
        raise (exc if desired is None else listed.refusal(exc, desired)) from None


def _explained(exc: VenueAuthError, targets: list[AccountTarget]) -> VenueAuthError:
    """A refused key, with the variables it came from and what to do about it."""
    account = exc.where.split("/")[1] if exc.where.count("/") else ""
    target = next((t for t in targets if t.name == account), None)
    if target is None or not exc.keys_refused or "clock" in exc.hint:  # not a bad key
        return exc
    names = ", ".join(secrets.env_names(target, connections()[target.venue]))
    uses = f"`{target.environment}`" if target.environment else target.base_url
    fix = (
        f"the key in {names} (credentials at {target.where}) was refused: it may be "
        f"mistyped, expired or revoked, or made for another environment than this "
        f"account's ({uses}); create a new key on the venue and update those variables"
    )
    hint = f"{exc.hint}; {fix}" if exc.hint else fix
    return VenueAuthError(exc.where, exc.venue_message, code=exc.code, hint=hint)


def _plan_now(args: argparse.Namespace) -> tuple[DesiredState, list[AccountTarget], Selection]:
    desired = load_desired(args.policies, capabilities())
    selection = Selection.of(args, frozenset(VENUES))
    return desired, selection.targets(desired), selection


def journal_path(args: argparse.Namespace) -> Path:
    given: Path | None = getattr(args, "journal", None)
    return given or paths.state_dir(args.policies) / "journal.jsonl"


def _made_plan(
    args: argparse.Namespace,
    desired: DesiredState,
    live: list[LiveAccount],
    selection: Selection,
    targets: list[AccountTarget],
    runs: list[recovery.Unfinished],
    *,
    restore: bool = True,
) -> Plan:
    """The plan of what is read, with the unfinished runs of the journal named (and, with
    `restore`, put right), the guardrails it trips and the mode it was made in."""
    made = selection.plan(desired, live, capabilities(), targets)
    made = recovery.amend(made, runs, desired, live, restore=restore)
    had = recovery.baseline(runs, live)
    trips = guards.check(made, guards.load(args.policies), desired, had)
    return dataclasses.replace(made, trips=tuple(trips), sandbox=args.sandbox)


def _unfinished(
    args: argparse.Namespace, journal: Path | None, *, holding: bool = False
) -> list[recovery.Unfinished]:
    """The unfinished runs of these policies; those of another policies folder sharing the
    journal are named, not taken on. Unless this process holds the one-run lock itself
    (`holding`), a run whose process holds it now is running, not interrupted: the lock is
    looked at before and after the journal is read, so a run that starts or ends in between
    is never called interrupted."""
    mine = paths.policies_id(args.policies)
    others = recovery.elsewhere(journal, mine)
    if others:
        console.note(
            f"The journal {journal} also holds unfinished apply runs of the policies at "
            f"{', '.join(others)}: mmp plan --policies FOLDER names what they left"
        )
    state = paths.state_dir(args.policies)
    before = None if holding else runlock.holder(state)
    runs = recovery.unfinished(journal, mine)
    now = None if holding else (runlock.holder(state) or before)
    if now is None:
        return runs
    console.warn(
        f"mmp: another run holds the lock of this repository now: {runlock.describe(now)}. "
        "What follows is read while it works: scopes it is changing may show mid-change"
    )
    return [dataclasses.replace(run, running=_holds(run, now)) for run in runs]


def _holds(run: recovery.Unfinished, holder: dict[str, object]) -> bool:
    """The unfinished run whose process holds the lock; when the holder is not recorded,
    every unended run may be it."""
    if holder.get("unreadable"):
        return not run.ended
    return run.pid == holder.get("pid") and run.host == holder.get("host") and not run.ended


def plan(args: argparse.Namespace) -> int:
    with runlock.ReadLock(paths.state_dir(args.policies), "plan"):
        return _plan(args)


def _plan(args: argparse.Namespace) -> int:
    desired, targets, selection = _plan_now(args)
    runs = _unfinished(args, journal_path(args))
    read: list[LiveAccount] = []

    async def work(connections: Connections) -> Plan:
        read.extend(await connections.read())
        # a saved plan is recomputed by apply, perhaps elsewhere: it cannot carry restores
        return _made_plan(args, desired, read, selection, targets, runs, restore=not args.out)

    result = run_live(args, targets, desired, work)
    out(RENDERERS[args.format](result, args.colour))
    if args.out:
        planfile.save(
            args.out,
            result,
            desired,
            read,
            guards.record(args.policies),
            Provenance.of(args.policies),
            expiry=dt.timedelta(minutes=args.expires),
        )
        console.note(f"Saved plan to {args.out}; apply it with: mmp apply {args.out}")
    return 2 if args.detailed_exitcode and result.has_changes else 0


def show(args: argparse.Namespace) -> int:
    """A saved plan as it was planned; reads no venue, needs no credentials."""
    saved = planfile.load(args.planfile)
    out(RENDERERS[args.format](saved.plan, args.colour))
    made = saved.provenance
    commit = f"commit {made.commit[:12]}" if made.commit else "no Git commit"
    dirty = ", with uncommitted policy changes" if made.dirty else ""
    console.note(
        f"{args.planfile}: made {saved.created_at:%Y-%m-%d %H:%M:%S} UTC at {commit}{dirty} "
        f"from {made.policies}; apply takes it until {saved.expires_at:%Y-%m-%d %H:%M:%S} UTC, "
        "and only after checking it against the checkout it runs in"
    )
    return 0


def apply(args: argparse.Namespace) -> int:
    """One run at a time per policy repository; then a saved plan, or a plan made now."""
    with runlock.RunLock(paths.state_dir(args.policies), "apply"):
        journal = Journal(journal_path(args), policies=paths.policies_id(args.policies))
        runs = _unfinished(args, journal.path, holding=True)
        _wait_for_landing(runs)
        try:
            if args.planfile:
                return _apply_saved(args, journal, runs)
            return _apply_now(args, journal, runs)
        finally:
            restore_defaults()


def _wait_for_landing(runs: list[recovery.Unfinished]) -> None:
    """A write an unfinished run sent may still land for a while: read the venues only once
    it cannot, so the plan is of what they end with (Ctrl-C ends the wait, nothing sent)."""
    until = recovery.landing_until(runs)
    if until is None:
        return
    scopes = [
        f"{item.key} ({item.pending} sent at {item.sent_at:%H:%M:%S} UTC)"
        for run in runs
        for item in run.scopes
        if item.may_still_land() and item.sent_at is not None
    ]
    wait_ms = max(0, (until - dt.datetime.now(dt.UTC)) // dt.timedelta(milliseconds=1))
    console.warn(
        f"mmp: a write of an unfinished run may still land: {', '.join(scopes)}. Waiting "
        f"until {until:%H:%M:%S} UTC ({-(-wait_ms // 1000)} s) before reading the venues"
    )
    time.sleep(wait_ms / 1000)


def _apply_saved(
    args: argparse.Namespace, journal: Journal, runs: list[recovery.Unfinished]
) -> int:
    saved = planfile.load(args.planfile)
    _saved_mode(args, saved)
    had = recovery.baseline(runs, saved.live)
    approved = check_saved(saved, args.planfile, args.policies, capabilities(), baseline=had)
    made = approved.plan
    out(RENDERERS["text"](made, args.colour))
    if not made.has_changes:
        out("Nothing to apply.\n")
        return 0
    _guard(args, made, journal)
    _approve(args, made)
    _include(made, journal)
    return _report(
        run_live(
            args,
            approved.targets,
            approved.desired,
            lambda conns: _execute(
                made,
                conns,
                journal,
                None,
                runs,
                approved.desired,
                lambda live: confirm_saved(approved, live, capabilities()),
            ),
        )
    )


def _saved_mode(args: argparse.Namespace, saved: planfile.SavedPlan) -> None:
    """A saved plan brings its own mode and selection; a flag that says otherwise is refused."""
    _saved_inclusion(args, saved.plan)
    selection = Selection.of(args, frozenset(VENUES))
    if selection.given:
        raise PlanFileError(
            f"{args.planfile}: a saved plan runs as it was planned; --account, --venue, "
            "--underlying and --shard cannot narrow it (plan again with them instead)"
        )
    if args.sandbox and not saved.sandbox:
        raise PlanFileError(
            f"{args.planfile}: the plan was made against the venues, but --sandbox (or "
            "MMP_SANDBOX) asks for the simulators; drop it, or plan again in the sandbox"
        )
    args.sandbox = saved.sandbox


def _saved_inclusion(args: argparse.Namespace, plan: Plan) -> None:
    """The held scopes a saved plan writes were approved with it, and the person running
    apply names them again: --include-held must repeat them exactly (a trigger time, if
    given, must be the plan's; --reason, if given, too), never add, drop or change one. A
    plan file is only text: what it says was checked is taken as true only when the command
    line says it as well."""
    named = [named_scope(text) for text in getattr(args, "include_held", None) or []]
    given = sorted({scope for scope, _ in named})
    reason = (getattr(args, "reason", None) or "").strip()
    included = plan.included
    stamps = [(s, at) for s, at in named if at is not None and at != included.trigger(s)]
    if given == list(included.scopes) and reason in ("", included.reason) and not stamps:
        args.include_held, args.reason = [], None  # checked here; the plan's inclusion runs
        return
    said = ", ".join(included.scopes)
    if included and not given:
        raise PlanFileError(
            f"{args.planfile}: the saved plan writes held scope(s) whose freeze state is "
            f"unknown: {said} (the plan says: {included.said()}); apply writes them only "
            f"when the person running it names them too: add "
            f"{' '.join(f'--include-held {s}' for s in included.scopes)} once you have "
            "checked them on the venue, or plan again without them. Nothing was sent"
        )
    other = "" if reason in ("", included.reason) else " with another --reason"
    other += f" and another trigger for {', '.join(s for s, _ in stamps)}" if stamps else ""
    raise PlanFileError(
        f"{args.planfile}: a saved plan runs as it was planned and approved: the held "
        f"scopes it writes are {said or 'none'}, while --include-held names "
        f"{', '.join(given) or 'none'}{other}; nothing was sent. Plan again with the "
        "--include-held and --reason wanted, and review that plan"
    )


def _apply_now(args: argparse.Namespace, journal: Journal, runs: list[recovery.Unfinished]) -> int:
    desired, targets, selection = _plan_now(args)

    async def work(connections: Connections) -> ApplyResult | None:
        live = await connections.read()
        made = _made_plan(args, desired, live, selection, targets, runs)
        out(RENDERERS["text"](made, args.colour))
        if not made.has_changes:
            out("Nothing to apply.\n")
            _recovered(journal, runs, {}, live, desired)
            return None
        _guard(args, made, journal)
        _approve(args, made)
        _include(made, journal)
        # after a person approved at a prompt the venues are read again (minutes may have
        # passed); with --auto-approve the read the plan was made from is seconds old
        fresh = live if args.auto_approve else None
        return await _execute(made, connections, journal, fresh, runs, desired)

    applied = run_live(args, targets, desired, work)
    return 0 if applied is None else _report(applied)


async def _execute(
    plan: Plan,
    connections: Connections,
    journal: Journal,
    live: list[LiveAccount] | None,
    runs: list[recovery.Unfinished],
    desired: DesiredState,
    confirm: Callable[[list[LiveAccount]], None] = lambda live: None,
    word: str = "Apply",
) -> ApplyResult:
    """Apply with SIGINT/SIGTERM handled (interrupt.py) from here on: nothing before this
    point has written anything, so a signal there simply ends the run. `confirm` sees the
    venues' fresh read first and may refuse it (a saved plan's steps must follow from it)."""
    interrupt = Interrupt()
    interrupt.install()
    try:
        if live is None:  # a saved plan, or after a prompt: read again, and name what
            live = await connections.read(list(plan.accounts))  # unfinished runs left
            if runs:
                console.warn("\n".join(recovery.describe(runs, live, desired)))
            confirm(live)
        stream = _Stream(len(plan.writes), word)
        try:
            result = await apply_plan(
                plan, connections, journal, live, interrupt=interrupt, tell=stream
            )
        finally:
            stream.close()
    finally:
        interrupt.uninstall()
    ended = {str(r.step.key): r.outcome.value for r in result.results}
    _recovered(journal, runs, ended, live, desired)
    return result


def _recovered(
    journal: Journal,
    runs: list[recovery.Unfinished],
    ended: dict[str, str],
    live: list[LiveAccount],
    desired: DesiredState,
) -> None:
    done = recovery.settled(runs, ended, live, desired)
    if not done.runs:
        return
    journal.write("recovered", runs=done.runs, handed_over=done.handed_over, by=who())
    journal.close()
    kinds = {run.run: run.kind for run in runs}  # an apply's or a heal's
    console.note(
        "Recovered the scopes of unfinished run(s) "
        + ", ".join(f"{kinds.get(run, 'apply')} run {run}" for run in done.runs)
        + ": each holds a config again, or is meant to hold none."
    )
    if done.handed_over:
        console.warn(
            "mmp: handed over to you, unread: " + ", ".join(done.handed_over) + ". A killed "
            "run had them in flight, and their accounts are no longer in the policies, so mmp "
            "can neither read nor restore them: check them on the venue now"
        )


def unfreeze(args: argparse.Namespace) -> int:
    from reconciler.commands import unfreeze as unfreezing

    desired = load_desired(args.policies, capabilities())
    key = unfreezing.parse_scope(args.scope, desired, capabilities())
    target = desired.accounts[key.account]
    args.concurrency = 1
    _confirm(args, f"Unfreeze {key} (it may quote again)?")
    with runlock.RunLock(paths.state_dir(args.policies), "unfreeze"):
        journal = Journal(journal_path(args))
        message = run_live(
            args,
            [target],
            {key.account: frozenset({key.underlying})},
            lambda conns: unfreezing.unfreeze(
                key, args.reason, conns, journal, desired.scopes.keys()
            ),
        )
    out(message + "\n")
    return 0


def _guard(args: argparse.Namespace, plan: Plan, journal: Journal) -> None:
    """Apply refuses the guardrails a plan trips unless --force (journaled, with who)."""
    trips = list(plan.trips)
    if trips and not args.force:
        raise guards.GuardrailError(trips)
    if trips:
        journal.write("force", trips=trips, by=who())
        console.warn(f"--force: applying despite {len(trips)} tripped guardrail(s)")


def _include(plan: Plan, journal: Journal) -> None:
    """Held scopes written by --include-held: journaled with who runs it, who planned it and
    why, and said, before anything is sent; the count is of the scopes it lets be written
    (a named scope written anyway, or with nothing to write, is journaled, not counted)."""
    included = plan.included
    if not included:
        return
    journal.write(
        "include-held",
        scopes=list(included.scopes),
        triggers=dict(included.triggers),
        reason=included.reason,
        planned_by=included.by,
        by=who(),
    )
    named = [step for step in plan.writes if str(step.key) in included.scopes]
    unheld = [str(step.key) for step in named if step.freeze.trigger_unresolved]
    reaching = [step for step in named if step.reaches and str(step.key) not in unheld]
    rest = [s for s in included.scopes if s not in unheld + [str(r.key) for r in reaching]]
    also = f"; named too, not held (written anyway): {', '.join(rest)}" if rest else ""
    if unheld or rest or not reaching:
        console.warn(
            f"--include-held: will write {len(unheld)} held scope(s) whose freeze state is "
            f"unknown, as checked by a person: {', '.join(unheld) or 'none'} "
            f"({included.said()}){also}"
        )
    for step in reaching:  # held for another scope's freeze its set may end
        console.warn(
            f"--include-held: will write {step.key}, held because its write may end the freeze "
            f"of {', '.join(step.reaches)} ({included.said()})"
        )


def _approve(args: argparse.Namespace, plan: Plan) -> None:
    _confirm(args, f"Apply {len(plan.writes)} change(s)?")


def _confirm(args: argparse.Namespace, question: str) -> None:
    if args.auto_approve:
        return
    if not console.is_terminal(sys.stdin):
        raise ApprovalError(
            "not applying: stdin is not a terminal; review the plan and pass "
            "--auto-approve to apply without a prompt"
        )
    if not answered_yes(question):
        raise ApprovalError("not applied: approval was not given")


LABELS = {
    Outcome.APPLIED: "applied",
    Outcome.KEPT_OLD: "FAILED (old config in force)",
    Outcome.UNKNOWN: "UNSAFE (may be unprotected)",
    Outcome.RESTORED: "RESTORED (old config back)",
    Outcome.MOVED: "SKIPPED (changed since plan)",
    Outcome.HELD: "HELD (froze since plan)",
    Outcome.NOT_RUN: "not run",
}
MEANINGS = {
    0: "every change applied and verified",
    1: "nothing was changed",
    3: "partial; every scope has its old or its new config in force",
    4: "a scope may be unprotected; see UNSAFE above",
}


def result_line(item: StepResult) -> str:
    label = LABELS[item.outcome]
    if item.outcome is Outcome.KEPT_OLD and item.step.before is None and item.step.after:
        label = "FAILED (still UNPROTECTED)"
    if item.outcome is Outcome.HELD and item.freeze_unknown:
        label = "HELD (freeze state unknown)"
    line = f"  {label:<30} {item.step.key}"
    said = [item.detail] if item.detail else []
    if item.outcome is Outcome.APPLIED:  # what the plan flagged, said where it happened
        said += [item.step.reason] if item.step.written_unknown else []
        said += [item.step.refreeze] if item.step.refreeze else []
    return line + (f": {'; '.join(said)}" if said else "")


class _Stream:
    """Apply's results as they happen: each step's line the moment it ends (stdout: a
    terminal, a pipe or a file alike), with a `Applied 12/180` line below them on a terminal."""

    def __init__(self, total: int, word: str = "Apply") -> None:
        self.progress = console.Progress(total, "Applied" if word == "Apply" else f"{word}ed")
        self.word = word
        self.started = False

    def __call__(self, item: StepResult) -> None:
        self.progress.clear()
        with contextlib.suppress(console.OutputError):  # the run goes on; its exit code tells
            head = f"\n{self.word}:\n" if not self.started else ""
            out(head + result_line(item) + "\n")
        self.started = True
        self.progress.step(str(item.step.key))

    def close(self) -> None:
        self.progress.close()


def _report(result: ApplyResult, word: str = "Apply", ending: tuple[int, str] | None = None) -> int:
    """Every scope was named with its end state as it ended (_Stream); now the config to
    restore for each one not known safe, and what the run comes to (`ending`: the exit code
    and its meaning, where the command's differs from its steps', as heal's may)."""
    lines = []
    for item in result.unsafe():
        wanted = item.step.after.shown() if item.step.after else "no config (removed)"
        before = item.step.before.shown() if item.step.before else "no config"
        lines.append(f"  restore {item.step.key}: wanted {wanted}; before the run it was {before}")
    for item in result.unprotected():
        assert item.step.after is not None
        lines.append(
            f"  still UNPROTECTED {item.step.key}: without a config, as before the run (mmp "
            f"status exits 4 until it has one); wanted {item.step.after.shown()}"
        )
    for key in result.held_bare:
        lines.append(
            f"  still UNPROTECTED {key}: held (why: above), so not created; without a config "
            "(mmp status exits 4 until it has one)"
        )
    if result.interrupted:
        lines.append(
            f"  interrupted by {result.interrupted}: steps under way were finished; "
            f"run {word.lower()} again to do the rest"
        )
    if result.journal_failed:
        lines.append(
            f"  the journal could not be written ({result.journal_failed}): its missing "
            "records were printed on stderr"
        )
    counts: dict[str, int] = {}
    for item in result.results:
        counts[item.outcome.value] = counts.get(item.outcome.value, 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing to do"
    code, meaning = ending or (result.exit_code, MEANINGS[result.exit_code])
    lines.append(f"{word} finished: {summary}. Exit {code}: {meaning}.")
    if not result.results:
        lines.insert(0, "")
    try:
        out("\n".join(lines) + "\n")
    except console.OutputError as exc:  # the run is over: its exit code still tells
        console.warn(f"mmp: {exc}; {word.lower()} finished with exit {code}: {meaning}")
    return code


def _read_everything(
    args: argparse.Namespace,
) -> tuple[DesiredState, list[LiveAccount], Filters]:
    """The policies and the live state of every selected account, read once."""
    desired, targets, selection = _plan_now(args)

    async def work(connections: Connections) -> list[LiveAccount]:
        return await connections.read()

    read = run_live(args, targets, desired, work)
    return desired, read, selection.filters


def status(args: argparse.Namespace) -> int:
    """Every scope of every account that could be read; an account that could not is named
    (one venue down never hides what the others say). Exit 4 when a scope is unprotected,
    else 1 when an account could not be read, else 2 when a scope is frozen, else 3 when a
    scope's freeze state is unknown, else 0."""
    with runlock.ReadLock(paths.state_dir(args.policies), "status"):
        return _status(args)


def _status(args: argparse.Namespace) -> int:
    from reconciler.commands import status as status_view

    runs = _unfinished(args, journal_path(args))
    desired, targets, selection = _plan_now(args)

    async def work(connections: Connections) -> tuple[list[LiveAccount], dict[str, str]]:
        return await connections.read_each()

    live, failed = run_live(args, targets, desired.declared_underlyings(), work)
    items = [r for r in status_view.rows(desired, live) if selection.filters.scope_selected(r.key)]
    now_ms = time.time_ns() // 1_000_000
    lines = recovery.describe(runs, live, desired)
    lines += [f"could not read {desired.accounts[n].venue}/{n}: {why}" for n, why in failed.items()]
    lines += [note for account in live for note in account.said()]
    if lines:  # on stderr with --json, so stdout stays one JSON document
        (console.warn if args.json else lambda text: out(text + "\n"))("\n".join(lines))
    render = status_view.json_text if args.json else status_view.table
    out(render(items, now_ms))
    unseen = sum(len(account.notes) for account in live)
    if unseen and not args.json:  # the counts above leave those parts out: never all-clear
        out(
            f"Not counted above: {unseen} part(s) of the accounts could not be read (the "
            "note(s) above say which and why); what they hold is not known.\n"
        )
    code = status_view.exit_code(items)
    left = recovery.left_unprotected(runs, live, desired, unread=failed)
    if left or code == status_view.UNPROTECTED_EXIT:
        return status_view.UNPROTECTED_EXIT
    return 1 if failed else code
