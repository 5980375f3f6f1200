"""One step of apply: check the scope is still as planned, write (journaled ahead), verify.

Before each write the scope's live config and freeze state must still be what the plan saw,
as read after the account's previous write, begun at most FRESH_MS ago (a read-back of
the account's previous step serves; on bulk-read venues one read per account, not per
scope), or read anew and answered within READ_BUDGET_MS of its send (a read dates from
its first request's send, not from its wait for a rate-limit slot). What remains between
that read and the write is a round trip: the venues' push channels close it (apply/push.py):
a freeze pushed since the step's check read began stops every further write to the scope.
If not, the step is skipped: `moved`, or `held` when a freeze fired. This is what stops two
applies on two machines from overwriting each other, and a write from ending a freeze.
A write that waits on its way out for longer than RECHECK_AFTER_MS after that check (for its
rate-limit slot, or to be sent again after the venue refused it for its rate limit) is
checked again by a new read just before it leaves (apply/recheck.py), and not sent if the
scope froze or moved meanwhile.

Every write is journaled before it leaves (`<kind>-sent`) and after (`write-answered`).
A replacement (reset-then-set venues) is: reset, confirm cleared, set at once, confirm; the
time between the two confirmations is the unprotected gap. If the set fails it is sent once
more (not after the venue's pushed rejection), then the old config is set again and
confirmed. On an asynchronous venue with a push channel open, a command's outcome is the
venue's pushed word on it or the read-back, whichever comes first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.apply import push
from reconciler.apply.journal import Journal
from reconciler.apply.recheck import Recheck
from reconciler.core.clock import clock
from reconciler.core.console import warn
from reconciler.core.errors import ReconcilerError, VenueUnavailable
from reconciler.core.freezes import became_held, became_held_for, ended_by_write, what_to_do
from reconciler.core.model import (
    FreezeState,
    LiveAccount,
    LiveScope,
    MmpConfig,
    ScopeKey,
    scope_digest,
    split_space,
)
from reconciler.core.secrets import redact
from reconciler.planning.plan import Action, Plan, Step
from reconciler.venues.base import ResetReach, Said
from reconciler.venues.limiter import sends_timed, unless_stopping
from reconciler.venues.live import Connections
from reconciler.venues.sendguard import guarded

FRESH_MS = 250  # an earlier read (a read-back) serves the check before a write if this fresh
RECHECK_AFTER_MS = 250  # a write leaving later than this after its check is checked again
READ_BUDGET_MS = 2_000  # a new read for that check must be answered this soon after its send
READ_TRIES = 3  # new reads for that check, when each takes longer than READ_BUDGET_MS
POLL_INTERVAL_MS = 50
POLL_MAX_INTERVAL_MS = 800
POLL_DEADLINE_MS = 10_000


class Outcome(enum.Enum):
    APPLIED = "applied"  # new config verified in force
    KEPT_OLD = "kept-old"  # the write failed; the old config is verified in force
    RESTORED = "restored"  # a replacement failed; the old config was set again and verified
    UNKNOWN = "unknown"  # neither old nor new is known to be in force
    MOVED = "moved"  # not written: the venue's config changed after the plan was made
    HELD = "held"  # not written: the scope froze after the plan was made
    NOT_RUN = "not-run"  # not started (an earlier failure, an interruption)


@dataclass
class StepResult:
    step: Step
    outcome: Outcome
    detail: str = ""
    gap_ms: int | None = None  # replacements: time without MMP between reset and set
    freeze_unknown: bool = False  # HELD: the scope's freeze state became unknown, not frozen
    for_another: str = ""  # HELD: for another scope's freeze, which its set may end


class Phase(enum.Enum):
    CHECKING = "checking it is still as planned"
    WRITING = "write sent, waiting for the venue"
    RATE_WAIT = "refused by the venue's rate limit, nothing written: waiting to send it again"
    QUEUED = "not sent yet: waiting for its rate-limit slot"
    VERIFYING = "verifying the write"
    RESET_SENT = "reset sent: its config is being cleared"
    CLEARED = "between its reset and its set: without MMP until the set is confirmed"
    RESTORING = "restoring its old config: without MMP until that is confirmed"


@dataclass
class Read:
    account: LiveAccount
    at_ns: int
    seq: int  # how many writes the account had been sent when this was read
    covers: frozenset[str] | None  # underlyings read; None: all of them
    # the config spaces read, where a bulk read of one scope reads only its own space's
    # scopes (Deribit's Block RFQ or order/quote); None: every space
    spaces: frozenset[str | None] | None = None

    def holds(self, underlying: str) -> bool:
        """Whether the read shows `underlying` as it was (a scope it does not list has no
        config), not merely left it out."""
        return (self.covers is None or underlying in self.covers) and (
            self.spaces is None or split_space(underlying)[0] in self.spaces
        )


@dataclass
class Run:
    """What the steps of one apply share."""

    plan: Plan
    connections: Connections
    journal: Journal
    reads: dict[str, Read] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)  # account -> writes sent
    phases: dict[str, Phase] = field(default_factory=dict)  # scope -> what it is doing now
    written: set[str] = field(default_factory=set)  # scopes a write was sent to
    bug: bool = False  # a step ended in an unexpected exception: start nothing new
    tell: Callable[[StepResult], None] = lambda result: None  # each step, as it ends
    stopping: Callable[[], str] = str  # the signal that asked apply to stop, or ""
    # venue -> the least time a reset of this run took to show: the next reset's reads start
    # a little before that, instead of spending the venue's rate limit on reads sure to miss
    fastest_clear_ms: dict[str, int] = field(default_factory=dict)
    checked_ns: dict[str, int] = field(default_factory=dict)  # scope -> its check read began
    # scope -> why its write was kept back by the check made again as it was leaving
    rechecked: dict[str, StepResult] = field(default_factory=dict)
    # scope -> when this run first sent it a write: a set's reset may reach other scopes
    # (Capabilities.set_reset_reach), ending a freeze pushed while it was on its way
    first_sent_ns: dict[ScopeKey, int] = field(default_factory=dict)

    def remember(
        self,
        account: LiveAccount,
        covers: frozenset[str] | None,
        began: int,
        spaces: frozenset[str | None] | None = None,
    ) -> None:
        """A read, dated when it began: what it says held then, at least."""
        seq = self.sent.get(account.account, 0)
        self.reads[account.account] = Read(account, began, seq, covers, spaces)

    def in_flight(self) -> list[str]:
        return [f"{scope}: {phase.value}" for scope, phase in sorted(self.phases.items())]


class StaleCheck(ReconcilerError):
    """The check before a write found no read fresh enough to trust."""


@dataclass(frozen=True)
class Unread:
    """A scope that could not be read back, and why."""

    why: str


Seen = MmpConfig | None | Unread  # what a read-back found: a config, none, or no answer


class Answer(enum.Enum):
    ACKNOWLEDGED = "acknowledged"  # the venue took the write
    REFUSED = "refused"  # the venue answered that it did nothing
    UNKNOWN = "unknown"  # no usable answer: it may or may not have been applied


@dataclass(frozen=True)
class Sent:
    """A write's answer: what the venue said, and its error (redacted) when it was not
    plainly acknowledged."""

    answer: Answer
    error: str = ""
    lost: bool = False  # no answer came at all: the request may still be on its way
    at_ns: int = 0  # when it was sent
    final: bool = False  # the venue's own pushed rejection: the same write would meet it again


ACKNOWLEDGED = Sent(Answer.ACKNOWLEDGED)


async def run_step(run: Run, step: Step) -> StepResult:
    scope = str(step.key)
    run.journal.write(
        "step-begin",
        scope=scope,
        key=step.key.to_data(),
        action=step.action.value,
        before=_data(step.before),
        after=_data(step.after),
    )
    run.phases[scope] = Phase.CHECKING
    end: Seen = Unread("see the write records")
    await push.confirm(run.connections, step.key.account)  # a channel trusted is one that answers
    result = await _check(run, step)
    if result is None or result.outcome is Outcome.HELD:  # a freeze pushed since it began
        held = result is not None and not result.for_another  # its own scope still frozen
        result = _pushed_hold(run, step, held=held) or result  # (said as pushed)
    if result is None and run.journal.failed:  # its step-begin may not be on disk
        result = StepResult(
            step, Outcome.NOT_RUN, f"not run: the journal cannot be written ({run.journal.failed})"
        )
    if result is None and run.stopping():  # a signal came while it was being checked
        result = StepResult(
            step,
            Outcome.NOT_RUN,
            f"not run: apply was interrupted ({run.stopping()}) before its first write",
        )
    if result is None and step.action is Action.REPLACE:
        result = await _replace(run, step)
    elif result is None:
        kind = "remove" if step.action is Action.REMOVE else "set"
        sent = await _send(run, step, kind, step.before if kind == "remove" else step.after)
        result = _kept_back(run, step) if sent.answer is Answer.REFUSED else None
        if result is None:
            want = None if kind == "remove" else step.after
            sent, end = await _outcome(run, step, want, sent)
            unapplied, late = _not_in_force(run, step), _may_land(run, step, sent)
            result = _classify(step, end, sent, unapplied, late)
    finish(run, result, end)
    return result


def finish(run: Run, result: StepResult, end: Seen = Unread("")) -> None:
    scope = str(result.step.key)
    run.phases.pop(scope, None)
    run.journal.write(
        "step-end",
        scope=scope,
        action=result.step.action.value,
        outcome=result.outcome.value,
        detail=result.detail,
        live=end.why if isinstance(end, Unread) else _data(end),
        gap_ms=result.gap_ms,
    )
    try:
        run.tell(result)  # journaled first: what the screen says, the journal has
    except Exception as exc:  # showing a result must never end the run mid-step
        warn(
            f"mmp: could not show the result of {scope} ({type(exc).__name__}: {exc}); "
            "the journal has it"
        )


async def _check(run: Run, step: Step, *, anew: bool = False) -> StepResult | None:
    """None when the scope is still as the plan saw it (and no scope its set may reach froze
    since: `_reached_froze`); else why the step is not run.
    `anew`: by a new read (the check made again as its write leaves)."""
    try:
        live = await _current(run, step, anew=anew)
    except ReconcilerError as exc:
        return StepResult(
            step, Outcome.NOT_RUN, f"not run: the check before writing failed: {redact(str(exc))}"
        )
    now = scope_digest(live) if live is not None and live.present else None
    if now == run.plan.digests.get(str(step.key)):
        return _reached_froze(run, step)
    if live is not None and _froze(step, live):
        caps = run.connections.clients[step.key.account].capabilities
        said = became_held(step.key, caps, live.freeze)
        return StepResult(step, Outcome.HELD, said, freeze_unknown=bool(live.freeze.unknown))
    bare = live is None or live.config is None
    shown = "no config" if live is None or live.config is None else live.config.shown()
    detail = (
        f"not written: the venue's config changed after the plan was made (now {shown}); "
        "another run or a person changed it. Plan again and review"
    )
    if bare and step.action is not Action.REMOVE and step.before is not None:
        # it had a config when planned and has none now: say so as loudly as we can
        return StepResult(step, Outcome.UNKNOWN, detail + ". It is now WITHOUT MMP")
    return StepResult(step, Outcome.MOVED, detail)


def _reached_froze(run: Run, step: Step) -> StepResult | None:
    """The step held when another scope its set may reach (Capabilities.set_reset_reach)
    froze, or may have, since the plan: one the plan did not name (`Step.reaches`, which
    --include-held let through). Seen where the check's read shows it (a bulk read of one
    scope shows its config space: Deribit), or where the account's push channel told a
    freeze of a scope of the plan (its channels carry the indexes apply writes)."""
    caps = run.connections.clients[step.key.account].capabilities
    reach = caps.set_reset_reach
    if reach is ResetReach.SCOPE:
        return None
    for other, freeze in _reached_freezes(run, step):
        if other != step.key and str(other) not in step.reaches and reach.reaches(step.key, other):
            said = became_held_for(step.key, caps, other, freeze)
            return StepResult(step, Outcome.HELD, said, for_another=str(other))
    return None


def _reached_freezes(run: Run, step: Step) -> list[tuple[ScopeKey, FreezeState]]:
    """The account's scopes frozen, or that may be: by the check's read, then by its push
    channel (a scope of the plan it told a freeze of)."""
    read = run.reads.get(step.key.account)
    found = []
    if read is not None:
        found = [
            (key, scope.freeze)
            for key, scope in sorted(read.account.by_key().items(), key=lambda i: i[0].sort_key())
            if read.holds(key.underlying) and scope.freeze.may_be_frozen
        ]
    for planned in run.plan.steps:
        if planned.key.account == step.key.account:
            pushed = push.pushed_freeze(run.connections, planned.key, 0)
            if pushed is not None:
                found.append((planned.key, pushed))
    return found


def _froze(step: Step, live: LiveScope) -> bool:
    """Frozen now; or its freeze state became unknown, or a new trigger came, since the plan
    (a scope whose state was already unknown and moved otherwise has moved, not frozen)."""
    now, then = live.freeze, step.freeze
    if now.frozen:
        return True
    return bool(now.unknown) and (not then.unknown or now.last_trigger_ms != then.last_trigger_ms)


async def _current(run: Run, step: Step, *, anew: bool = False) -> LiveScope | None:
    """The scope as read for the check before its write: the account's last read when it
    began at most FRESH_MS ago and no write was sent since, else a new read. A new read
    answered more than READ_BUDGET_MS after it was sent (a slow venue or network: what it
    shows may be that old) is tried twice more; then the step is not run."""
    account = step.key.account
    read = run.reads.get(account)
    if anew or not _reusable(run, step, read):
        took: list[int] = []
        for _ in range(READ_TRIES):
            read = await _read(run, step)
            took.append((clock().monotonic_ns() - read.at_ns) // 1_000_000)
            if took[-1] <= READ_BUDGET_MS:
                break
        else:
            raise StaleCheck(
                f"each of {READ_TRIES} reads was answered {'/'.join(map(str, took))} ms after "
                f"it was sent, more than the {READ_BUDGET_MS} ms within which a read can show "
                "the scope is still as planned (a slow venue or network)"
            )
    assert read is not None
    return read.account.by_key().get(step.key)


def _reusable(run: Run, step: Step, read: Read | None) -> bool:
    return (
        read is not None
        and read.seq == run.sent.get(step.key.account, 0)
        and clock().monotonic_ns() - read.at_ns <= FRESH_MS * 1_000_000
        and read.holds(step.key.underlying)
        and push.covers(run.connections, step.key.account, read.at_ns)
    )


def _pushed_stop(run: Run, step: Step) -> str:
    """Why no further write may go to the scope ('' when none): a freeze its venue pushed
    since the step's check read began, or since a write of this run that may have ended it
    was sent (`_raced`)."""
    return push.stop_reason(run.connections, step.key, _push_since(run, step))


def _push_since(run: Run, step: Step) -> int:
    """Since when a pushed freeze stops the step: its check read began, or earlier, when a
    write of this run to another scope whose set may reach it was sent before that (the
    read may show the freeze ended by that write's reset, not by the venue's rules)."""
    scope = str(step.key)
    if scope not in run.checked_ns:
        read = run.reads.get(step.key.account)
        run.checked_ns[scope] = read.at_ns if read is not None else 0
    raced = _raced(run, step)
    return min(run.checked_ns[scope], raced[1]) if raced else run.checked_ns[scope]


def _raced(run: Run, step: Step) -> tuple[ScopeKey, int] | None:
    """The first write of this run, to another scope, whose set may end the step's scope's
    freeze (Capabilities.set_reset_reach), and when it was sent; None if none."""
    reach = run.connections.clients[step.key.account].capabilities.set_reset_reach
    sent = [
        (at, other)
        for other, at in run.first_sent_ns.items()
        if other != step.key and reach.reaches(other, step.key)
    ]
    if not sent:
        return None
    at, other = min(sent, key=lambda item: (item[0], item[1].sort_key()))
    return other, at


def _kept_back(run: Run, step: Step) -> StepResult | None:
    """A refused first write kept back by the check made again as it left, or by a pushed
    freeze: the step's result; else None (the venue refused it)."""
    rechecked = run.rechecked.pop(str(step.key), None)
    held = rechecked is not None and rechecked.outcome is Outcome.HELD
    held = held and not (rechecked and rechecked.for_another)  # its own scope still frozen
    return _pushed_hold(run, step, held=held) or rechecked  # a pushed freeze said as pushed


def _guard(run: Run, step: Step) -> Recheck:
    """The check before the step's first write, made again if that write waits too long."""
    scope = str(step.key)

    async def check() -> str:
        result = await _check(run, step, anew=True)
        read = run.reads.get(step.key.account)
        if read is not None:  # read before this write left: no later check takes it as after
            read.seq -= 1
        if result is None:
            return ""
        run.rechecked[scope] = result
        return result.detail

    before = run.phases.get(scope, Phase.WRITING)  # what it is said to be doing, once sent
    run.phases[scope] = Phase.QUEUED  # until its slot is taken and it passes the check

    def waiting(refused: bool) -> None:
        if refused:
            run.phases[scope] = Phase.RATE_WAIT
        elif run.phases.get(scope) in (Phase.RATE_WAIT, Phase.QUEUED):
            run.phases[scope] = before

    return Recheck(run.journal, scope, check, waiting, RECHECK_AFTER_MS)


def _pushed_hold(run: Run, step: Step, *, held: bool = False) -> StepResult | None:
    """The step held by a freeze pushed since its check read began, or None. A freeze
    pushed before that, while a write that may have ended it was on its way, holds it too,
    said so, unless its check (`held`) found the scope still frozen."""
    why = _pushed_stop(run, step)
    if not why:
        return None
    freeze = push.pushed_freeze(run.connections, step.key, run.checked_ns[str(step.key)])
    raced = _raced(run, step) if freeze is None else None  # pushed before its check read
    if raced is not None and held:
        return None  # its check found it still frozen: said as such
    run.journal.write("push-trigger", scope=str(step.key), said=why)
    caps = run.connections.clients[step.key.account].capabilities
    if raced is not None:  # while a write that may have ended it was on its way
        return StepResult(step, Outcome.HELD, ended_by_write(step.key, caps, raced[0], why))
    assert freeze is not None
    said = f"not written: {why}, after the plan was made; "
    return StepResult(step, Outcome.HELD, said + what_to_do(step.key, caps, freeze))


async def _read(run: Run, step: Step) -> Read:
    only = frozenset({step.key.underlying})  # one scope: no need to read the whole account
    began = clock().monotonic_ns()
    with sends_timed() as sends:
        account = await run.connections.read_account(step.key.account, only=only)
    bulk = run.connections.clients[step.key.account].capabilities.bulk_read
    # a bulk read of one scope returns its whole space (Deribit reads no other: 2 requests
    # instead of 4), so it serves the next step's check only in that space
    spaces = frozenset(split_space(u)[0] for u in only) if bulk else None
    # dated from its first request's send: a wait for a rate-limit slot does not age it
    run.remember(account, None if bulk else only, min(sends, default=began), spaces)
    return run.reads[step.key.account]


async def _send(
    run: Run, step: Step, kind: str, config: MmpConfig | None, purpose: str = "apply"
) -> Sent:
    """One write, journaled before it leaves and after its answer."""
    scope, account = str(step.key), step.key.account
    run.journal.write(f"{kind}-sent", scope=scope, config=_data(config), purpose=purpose)
    if run.journal.failed and scope not in run.written:
        # the step's first write, not on disk ahead: not sent (a replacement's set, once its
        # reset went out, is sent whatever the journal: the scope has no MMP until it lands)
        return Sent(
            Answer.REFUSED, f"not sent: the journal cannot be written ({run.journal.failed})"
        )
    run.sent[account] = run.sent.get(account, 0) + 1
    run.written.add(scope)
    run.first_sent_ns.setdefault(step.key, clock().monotonic_ns())
    first = run.phases.get(scope) in (None, Phase.CHECKING)
    if run.phases.get(scope) in (None, Phase.CHECKING, Phase.VERIFYING):
        run.phases[scope] = Phase.RESET_SENT if kind == "reset" else Phase.WRITING
    if first:  # a signal or a pushed freeze before it leaves: not sent (a later write of
        # the step always is)
        stop = unless_stopping(lambda: _interrupted(run) or _pushed_stop(run, step))
        guard = _guard(run, step)
        with stop, guarded(guard):
            sent = await _attempt(run, step, kind, config)
        guard.waiting_ended()
    else:
        sent = await _attempt(run, step, kind, config)
    run.journal.write(
        "write-answered",
        scope=scope,
        write=kind,
        purpose=purpose,
        result=sent.answer.value,
        error=sent.error,
    )
    return sent


def _interrupted(run: Run) -> str:
    signal = run.stopping()
    return f"apply was interrupted ({signal}) before it left" if signal else ""


async def _attempt(run: Run, step: Step, kind: str, config: MmpConfig | None) -> Sent:
    client = run.connections.clients[step.key.account]
    try:
        with sends_timed() as sends:
            if kind == "reset":
                await client.reset(step.key)
            elif kind == "remove":
                assert config is not None
                await client.remove_config(step.key, config)
            else:
                assert config is not None
                await client.set_config(step.key, config)
    except VenueUnavailable as exc:
        answer = Answer.UNKNOWN if exc.maybe_applied else Answer.REFUSED
        lost = answer is Answer.UNKNOWN and not exc.answered
        # the last send is the one that may still be on its way (it was signed then)
        at = max(sends, default=clock().monotonic_ns())
        return Sent(answer, redact(str(exc)), lost=lost, at_ns=at)
    except ReconcilerError as exc:
        return Sent(Answer.REFUSED, redact(str(exc)))  # the venue answered and refused
    return ACKNOWLEDGED


async def _await_state(
    run: Run,
    step: Step,
    want: MmpConfig | None,
    sent: Sent,
    *,
    eager: bool = False,
    settle_ms: int = 0,
) -> Seen:
    """Read until the scope shows `want`; once on a synchronous venue or after a refusal.
    When the outcome is unknown an asynchronous venue is watched to the deadline, and a read
    that fails is tried again until then. Reads back off (50 ms, doubling to 800 ms) except
    `eager` ones (a replacement's reset: every moment waiting there is without MMP). On an
    asynchronous venue `settle_ms` (how long the venue just took, at most 800 ms) passes
    before the first read: reading sooner would only spend the rate limit."""
    caps = run.connections.clients[step.key.account].capabilities
    scope = str(step.key)
    if run.phases.get(scope) is Phase.WRITING:
        run.phases[scope] = Phase.VERIFYING
    deadline = clock().monotonic_ns() + POLL_DEADLINE_MS * 1_000_000
    interval = POLL_INTERVAL_MS
    refused = sent.answer is Answer.REFUSED
    if settle_ms and not (caps.synchronous or refused):
        await clock().sleep_ns(min(settle_ms, POLL_MAX_INTERVAL_MS) * 1_000_000)
    # a lost write on a venue that refuses old requests is settled by a read begun after
    # that age; elsewhere nothing gained by waiting (_may_land says it may still land)
    final_ns = sent.at_ns + (caps.refuses_after_ms or 0) * 1_000_000 if sent.lost else 0
    while True:
        began = clock().monotonic_ns()
        seen = await _read_back(run, step)
        synchronous = caps.synchronous and began >= final_ns
        settled = not isinstance(seen, Unread) and (synchronous or refused or seen == want)
        if settled or clock().monotonic_ns() >= deadline:
            return seen
        await clock().sleep_ns(interval * 1_000_000)
        if not eager or isinstance(seen, Unread):
            interval = min(interval * 2, POLL_MAX_INTERVAL_MS)


async def _outcome(
    run: Run,
    step: Step,
    want: MmpConfig | None,
    sent: Sent,
    *,
    eager: bool = False,
    settle_ms: int = 0,
    trust: bool = False,
) -> tuple[Sent, Seen]:
    """Where the scope ended after `sent`: read back (_await_state), or, on an asynchronous
    venue with its push channel open, by the venue's pushed word on the command, whichever
    comes first. A pushed rejection is final, in the venue's words; a pushed success is read
    back to verify, except a replacement's reset (`trust`): its set goes at once."""
    acknowledged = sent.answer is Answer.ACKNOWLEDGED
    channel = push.waits_for_word(run.connections, step.key) if acknowledged else None

    async def poll() -> Seen:
        return await _await_state(run, step, want, sent, eager=eager, settle_ms=settle_ms)

    if channel is None:
        return sent, await poll()
    word = await push.first_word(channel, step.key, poll)
    if not isinstance(word, Said):
        return sent, word
    run.journal.write("write-outcome", scope=str(step.key), applied=word.applied, said=word.reason)
    if word.applied:
        return sent, want if trust else await _await_state(run, step, want, sent, eager=True)
    refused = Sent(Answer.REFUSED, f"{step.key.venue} rejected it ({word.reason})", final=True)
    return refused, await _read_back(run, step)


async def _read_back(run: Run, step: Step) -> Seen:
    """The scope's config as the venue now reports it (Unread when it cannot be read)."""
    try:
        read = await _read(run, step)
    except ReconcilerError as exc:
        return Unread(f"read-back failed: {redact(str(exc))}")
    live = read.account.by_key().get(step.key)
    return None if live is None else live.config


async def _replace(run: Run, step: Step) -> StepResult:
    assert step.after is not None and step.before is not None
    scope = str(step.key)
    sent = await _send(run, step, "reset", None)
    held = _kept_back(run, step) if sent.answer is Answer.REFUSED else None
    if held is not None:
        return held
    acknowledged = clock().monotonic_ns()
    learned = run.fastest_clear_ms.get(step.key.venue, 0) * 3 // 4
    sent, cleared = await _outcome(run, step, None, sent, eager=True, settle_ms=learned, trust=True)
    if cleared is not None:
        late = _may_land(run, step, sent)
        return _classify(step, cleared, sent, "the reset did not clear the config in time", late)
    gap_start = clock().monotonic_ns()
    settle_ms = (gap_start - acknowledged) // 1_000_000  # the set's first read waits as long
    fastest = run.fastest_clear_ms.get(step.key.venue, settle_ms)
    run.fastest_clear_ms[step.key.venue] = min(fastest, settle_ms)
    run.phases[scope] = Phase.CLEARED
    run.journal.write("replace-cleared", scope=scope)
    errors = []
    for purpose in ("apply", "retry"):  # the set, and one retry within the deadline
        froze = _stopped_mid_replacement(run, step)
        if froze is not None:
            return froze
        sent = await _send(run, step, "set", step.after, purpose)
        sent, seen = await _outcome(run, step, step.after, sent, settle_ms=settle_ms)
        if seen == step.after:
            gap_ms = (clock().monotonic_ns() - gap_start) // 1_000_000
            run.journal.write("replace-set", scope=scope, unprotected_ms=gap_ms)
            detail = f"unprotected for {gap_ms} ms between reset and set"
            return StepResult(step, Outcome.APPLIED, detail, gap_ms=gap_ms)
        errors.append(sent.error or _not_in_force(run, step))
        if sent.final:
            break  # the venue's own word: the same set would be rejected again
    return await _restore(run, step, errors, gap_start, settle_ms)


def _stopped_mid_replacement(run: Run, step: Step) -> StepResult | None:
    """A freeze pushed since the step began stops every further write, even with the scope
    cleared: a set might end the freeze. Said as WITHOUT MMP (exit 4), never silently."""
    why = _pushed_stop(run, step)
    if not why:
        return None
    run.journal.write("replace-held", scope=str(step.key), said=why)
    return StepResult(
        step,
        Outcome.UNKNOWN,
        f"froze while its replacement was under way ({why}): its reset had cleared the config, "
        "and no set was sent after that, since a write might end the freeze: the scope is "
        "WITHOUT MMP until `mmp apply` sets it (once the freeze has ended)",
    )


async def _restore(
    run: Run, step: Step, errors: list[str], gap_start: int, settle_ms: int
) -> StepResult:
    froze = _stopped_mid_replacement(run, step)
    if froze is not None:
        return froze
    run.phases[str(step.key)] = Phase.RESTORING
    run.journal.write("replace-restore", scope=str(step.key), errors=errors)
    sent = await _send(run, step, "set", step.before, "restore")
    sent, restored = await _outcome(run, step, step.before, sent, settle_ms=settle_ms)
    gap_ms = (clock().monotonic_ns() - gap_start) // 1_000_000
    why = "; ".join(errors)
    if restored == step.before:
        detail = f"{why}; the old config was restored after {gap_ms} ms without MMP"
        return StepResult(step, Outcome.RESTORED, detail, gap_ms=gap_ms)
    detail = f"{why}; restoring the old config failed too: the scope may be without MMP"
    return StepResult(step, Outcome.UNKNOWN, detail, gap_ms=gap_ms)


def _not_in_force(run: Run, step: Step) -> str:
    caps = run.connections.clients[step.key.account].capabilities
    if caps.synchronous:
        return "the venue answered success but the change is not in force"
    return (
        f"the write was acknowledged but was not in force after {POLL_DEADLINE_MS} ms "
        "(the venue reports the reason only on its private WebSocket)"
    )


def _may_land(run: Run, step: Step, sent: Sent) -> str:
    """Why a write not in force yet may still take effect ('' when it cannot): on an
    asynchronous venue anything not refused outright was queued and is applied whenever the
    venue gets to it; on any venue a write whose answer was lost may still be on its way,
    unless the venue refuses requests of its age (_await_state read past that)."""
    caps = run.connections.clients[step.key.account].capabilities
    if sent.answer is Answer.REFUSED:
        return ""
    if not caps.synchronous:
        return "the venue took the command and may still apply it at any moment"
    if sent.lost and caps.refuses_after_ms is None:
        return (
            f"its answer was lost, so the request may still reach {caps.venue} and apply at "
            f"any moment ({caps.venue} refuses no request for its age)"
        )
    return ""


def _classify(
    step: Step, end: Seen, sent: Sent, unapplied: str = "", may_land: str = ""
) -> StepResult:
    """Where the scope ended, after `sent`. `unapplied`: what to say when the write was not
    refused yet is not in force; `may_land`: the write may still take effect later (so the
    old config in force now proves nothing)."""
    error = sent.error
    if isinstance(end, Unread):
        detail = f"{error}; {end.why}" if error else end.why
        return StepResult(step, Outcome.UNKNOWN, detail)
    if end == step.after:
        return StepResult(step, Outcome.APPLIED, f"verified despite: {error}" if error else "")
    why = error or unapplied
    if end == step.before and may_land:
        return StepResult(
            step,
            Outcome.UNKNOWN,
            f"{why}; the old config is in force now, but {may_land}",
        )
    if end == step.before and end is None and step.after is not None:
        return StepResult(
            step, Outcome.KEPT_OLD, f"{why}; the scope still has no config: UNPROTECTED"
        )
    if end == step.before:
        return StepResult(step, Outcome.KEPT_OLD, f"{why}; old config still in force")
    shown = "no config" if end is None else "a config that is neither the old nor the new one"
    return StepResult(step, Outcome.UNKNOWN, f"{why}; the venue now reports {shown}")


def classify_read(step: Step, end: Seen, error: str) -> StepResult:
    """For the exception boundary: where a scope ended after apply lost track of it."""
    return _classify(step, end, Sent(Answer.UNKNOWN, error), error)


async def read_scope(run: Run, step: Step) -> Seen:
    return await _read_back(run, step)


def _data(config: MmpConfig | None) -> object:
    return None if config is None else config.to_data()
