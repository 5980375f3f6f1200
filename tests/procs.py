"""A real `mmp` process against strict simulators served on loopback, for tests that do bad
things to it: signals at a chosen request, SIGKILL and a re-run, two runs at once, a freeze
mid-apply.

    with LiveDesk(tmp_path, {("bullish", "bx", "BTC", None): (want, seeded)}) as desk:
        gate = desk.gate("bullish", bullish_command("V1ResetMMP"))
        proc = desk.spawn("apply", "--auto-approve")
        assert gate.wait_arrived(10, proc)
        proc.send_signal(signal.SIGKILL)
        gate.release()  # the venue gets the reset all the same
        desk.settle()
        assert desk.live(("bullish", "bx", "BTC", None)) is None

A LiveDesk is a throwaway policy repository (git, one commit, policies/desk.yaml), one
simulator per venue served with reconciler.simulators.server.serve, the accounts created and
seeded on them, and the credential variables in `desk.env`. A Gate holds one request at
the server, before the venue sees it or after the venue handled it, until the test
releases it. The live state is read through our own venue clients straight from the
simulator, past the gates; the journal is read as JSON lines that may end torn.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from reconciler.core.model import LIMIT_FIELDS, LiveScope, MmpConfig, ScopeKey, split_space
from reconciler.core.units import decimal_text, format_duration, format_freeze
from reconciler.simulators.server import serve
from reconciler.venues import VENUES
from reconciler.venues.base import Credentials
from reconciler.venues.bullish.wire import MMP_PATH as BULLISH_MMP_PATH
from tests.venues import ROWS, bullish_command, client_of

ROOT = Path(__file__).resolve().parent.parent
ScopeLike = ScopeKey | tuple[str, str, str, str | None]  # venue, account, underlying, group
Predicate = Callable[[httpx.Request], bool]
MAX_HOLD_S = 60  # a gate nobody releases lets its request through after this long


def scope_key(scope: ScopeLike) -> ScopeKey:
    return scope if isinstance(scope, ScopeKey) else ScopeKey(*scope)


APPLY_DELAY_MS = 100  # an asynchronous venue applies a command this long after the ack


def default_sim(venue: str) -> Any:
    """The strict simulator for a venue; an asynchronous one (Bullish) applies commands
    APPLY_DELAY_MS after the ack."""
    return ROWS[venue].simulator(APPLY_DELAY_MS)


# ---- predicates ---------------------------------------------------------------------------


def any_write(venue: str) -> Predicate:
    """Any request that may change the venue's MMP state (sets and resets)."""
    return ROWS[venue].writes


BULLISH_RESET = bullish_command("V1ResetMMP")
BULLISH_SET = bullish_command("V1SetMMP")


def bullish_config_read(request: httpx.Request) -> bool:
    """A Bullish GET of the MMP configuration (apply's read and every read-back)."""
    return request.method == "GET" and request.url.path == BULLISH_MMP_PATH


# ---- gates --------------------------------------------------------------------------------


class Gate:
    """Holds the nth request matching `predicate` at the server until `release()`.

    before=True: the venue has not seen the request yet. before=False: the venue handled
    it and the answer is not sent yet. The held server thread is independent of the client:
    releasing after the client died just finishes it (its answer goes nowhere). mmp gives
    up on an answer after 10 s (reconciler.venues.live.TIMEOUT): hold for less, unless the test
    is about that."""

    def __init__(self, predicate: Predicate, *, nth: int = 1, before: bool = True) -> None:
        self.predicate, self.nth, self.before = predicate, nth, before
        self.matched = 0  # requests that matched so far, the held one included
        self.request: httpx.Request | None = None
        self.response: httpx.Response | None = None  # before=False: the venue's answer
        self._arrived = threading.Event()
        self._released = threading.Event()
        self._finished = threading.Event()
        self._deliver = True

    @property
    def arrived(self) -> bool:
        return self._arrived.is_set()

    def wait_arrived(self, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
        """True once the request is held; False after `timeout` seconds, or as soon as
        `proc` (the client) has exited without the request arriving."""
        deadline = time.monotonic() + timeout
        while not self._arrived.wait(0.02):
            if time.monotonic() >= deadline or (proc is not None and proc.poll() is not None):
                return self._arrived.is_set()
        return True

    def release(self, *, deliver: bool = True) -> None:
        """Let the request go on. deliver=False loses it: a before-gate's request never
        reaches the venue, an after-gate's answer is never sent; either way the connection
        closes without an answer."""
        self._deliver = deliver
        self._released.set()

    def wait_finished(self, timeout: float) -> bool:
        """True once the held request was released and the venue's handler returned."""
        return self._finished.wait(timeout)

    def _claims(self, request: httpx.Request) -> bool:
        """Called for every request, under the server's gate lock: is this the one?"""
        if self.matched >= self.nth or not self.predicate(request):
            return False
        self.matched += 1
        return self.matched == self.nth

    def _hold(self, request: httpx.Request, response: httpx.Response | None) -> bool:
        self.request, self.response = request, response
        self._arrived.set()
        self._released.wait(MAX_HOLD_S)
        return self._deliver


class Gated:
    """A simulator behind gates; records every request that reached the server."""

    def __init__(self, app: Callable[[httpx.Request], httpx.Response]) -> None:
        self.app = app
        self.gates: list[Gate] = []
        self.seen: list[httpx.Request] = []
        self._lock = threading.Lock()

    def add(self, gate: Gate) -> Gate:
        with self._lock:
            self.gates.append(gate)
        return gate

    def release_all(self) -> None:
        for gate in self.gates:
            gate.release()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.seen.append(request)
            fired = [gate for gate in self.gates if gate._claims(request)]
        try:
            for gate in fired:
                if gate.before and not gate._hold(request, None):
                    raise ConnectionResetError("lost on purpose by a gate")  # server: silent
            response = self.app(request)
            response.read()
            for gate in fired:
                if not gate.before and not gate._hold(request, response):
                    raise ConnectionResetError("answer lost on purpose by a gate")
            return response
        finally:
            for gate in fired:
                gate._finished.set()


# ---- processes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Spawned(subprocess.Popen[bytes]):
    """An `mmp` process whose stdout and stderr go to files, readable while it runs."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], logs: Path) -> None:
        self.command = args
        self.out_path, self.err_path = logs.with_suffix(".out"), logs.with_suffix(".err")
        # a parent that ignores SIGINT (a background job) would pass that on, and Python
        # would then never raise KeyboardInterrupt: give the child the default back
        ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            super().__init__(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # a Ctrl-C at the test's terminal is not sent to it
                preexec_fn=_sigint_default if ignored else None,
            )

    def stdout_text(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def stderr_text(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def finish(self, timeout: float = 60) -> Result:
        """Wait for the exit; a process still running after `timeout` s is killed and the
        test fails with what it printed."""
        if not _exited(self, timeout):
            self.kill()
            self.wait()
            raise AssertionError(
                f"{' '.join(self.command)} still running after {timeout} s\n"
                f"stdout:\n{self.stdout_text()}\nstderr:\n{self.stderr_text()}"
            )
        return Result(self.wait(), self.stdout_text(), self.stderr_text())


def _exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether proc exits within timeout s, told the moment it does (a pidfd where Linux
    has one; Popen.wait(timeout) polls in steps of up to 50 ms, which shows in figures)."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd here, or already reaped
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def disposition(proc: subprocess.Popen[bytes], signum: int) -> str:
    """How a running process takes a signal: "caught", "ignored" or "default" (Linux
    /proc; "unknown" elsewhere or once it has exited)."""
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text(encoding="ascii")
    except OSError:
        return "unknown"
    masks = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    bit = 1 << (signum - 1)
    if int(masks.get("SigCgt", "0"), 16) & bit:
        return "caught"
    return "ignored" if int(masks.get("SigIgn", "0"), 16) & bit else "default"


def child_env() -> dict[str, str]:
    """This environment without what would change how mmp runs or where it connects."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("MMP_SANDBOX", "NO_COLOR")
        and not name.startswith("GITHUB_")
        and not name.lower().endswith("_proxy")
    }
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")  # this working tree
    env["PYTHONUNBUFFERED"] = "1"  # output readable while it runs
    env["NO_COLOR"] = "1"
    env["MMP_LATE_LANDING_S"] = "0"  # a killed run's writes have landed or not when read
    return env


# ---- journal ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalFile:
    """The journal's records. `torn`: a last line cut short (not JSON, or no newline), kept
    apart; `invalid`: other lines that are not JSON, as (line number, text)."""

    records: list[dict[str, Any]]
    torn: str | None = None
    invalid: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> JournalFile:
        if not path.exists():
            return cls([])
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        last = lines.pop()  # "" when the file ends in a newline
        records: list[dict[str, Any]] = []
        invalid: list[tuple[int, str]] = []
        for number, line in enumerate(lines, start=1):
            record = _json_object(line)
            if record is None:
                invalid.append((number, line))
            else:
                records.append(record)
        torn = last or None
        if torn is None and invalid and invalid[-1][0] == len(lines):
            torn = invalid.pop()[1]
        return cls(records, torn, invalid)

    def events(self, scope: ScopeLike | None = None) -> list[str]:
        """Event names in order, of one scope's records (`scope` in them) or of all."""
        return [str(r.get("event")) for r in self.for_scope(scope)]

    def for_scope(self, scope: ScopeLike | None) -> list[dict[str, Any]]:
        wanted = None if scope is None else str(scope_key(scope))
        return [r for r in self.records if wanted is None or r.get("scope") == wanted]


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# ---- policy YAML --------------------------------------------------------------------------


def yaml_fields(config: MmpConfig, indent: str) -> list[str]:
    lines = [
        f"{indent}window: {format_duration(config.window_ms)}",
        f"{indent}frozen: {format_freeze(config.frozen_ms)}",
    ]
    for name in LIMIT_FIELDS:  # trade_count_limit too (Deribit Block RFQ's `all`)
        value = config.value(name)
        if isinstance(value, Decimal):
            lines.append(f"{indent}{name}: {decimal_text(value)}")
    return lines


def credentials_prefix(account: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", account.upper())


def policy_yaml(desired: Mapping[ScopeKey, MmpConfig | None], urls: Mapping[str, str]) -> str:
    """One file of every account with a declared scope; None declares the scope `absent`."""
    lines = ["# written by tests/procs.py", "accounts:"]
    by_account: dict[tuple[str, str], list[ScopeKey]] = {}
    for key in sorted(desired, key=ScopeKey.sort_key):
        by_account.setdefault((key.account, key.venue), []).append(key)
    for (account, venue), keys in sorted(by_account.items()):
        lines += [f"  {account}:", f"    venue: {venue}", f"    base_url: {urls[venue]}"]
        lines += [f"    credentials: {credentials_prefix(account)}"]
        caps = VENUES[venue].capabilities
        # the venue's own scopes under `mmp:`, those of another config space (Deribit's
        # block_rfq:<index>) under that space's section
        for space in (None, *sorted(caps.spaces)):
            mine = [k for k in keys if split_space(k.underlying)[0] == space]
            if space is not None and not mine:
                continue
            lines.append(f"    {space or 'mmp'}:")
            grouped = caps.groups if space is None else caps.spaces[space].groups
            lines += _section(desired, mine, grouped, caps.default_group_name)
    return "\n".join(lines) + "\n"


def _section(
    desired: Mapping[ScopeKey, MmpConfig | None], keys: list[ScopeKey], grouped: bool, default: str
) -> list[str]:
    lines: list[str] = []
    for underlying, scopes in itertools.groupby(keys, key=lambda k: k.underlying):
        lines.append(f"      {split_space(underlying)[1]}:")
        for key in scopes:
            config = desired[key]
            if not grouped:
                lines[-1] += " absent" if config is None else ""
                lines += [] if config is None else yaml_fields(config, "        ")
                continue
            group = key.group or default
            lines.append(f"        {group}:" + (" absent" if config is None else ""))
            lines += [] if config is None else yaml_fields(config, "          ")
    return lines


# ---- the desk -----------------------------------------------------------------------------

Tuple4 = tuple[str, str, str, str | None]
Pair = tuple[MmpConfig | None, MmpConfig | None]  # (desired or None: `absent`, live or None)
Scopes = Mapping[ScopeKey, Pair] | Mapping[Tuple4, Pair]
Changes = Mapping[ScopeKey, MmpConfig | None] | Mapping[Tuple4, MmpConfig | None]


class LiveDesk:
    """Policies in `repo` (a git repository), simulators on loopback, credentials in `env`.

    `scopes`: scope -> (desired config or None for `absent`, live config to seed or None).
    `sims`: venue -> a simulator made by the test (constructor switches); every venue of
    `scopes` or `venues` without one gets `default_sim(venue)`. `sockets`: each simulator
    that has a push channel (`ws`) serves it on its port, as the venue does; without, its
    handshake is refused and mmp works from REST alone."""

    def __init__(
        self,
        root: Path,
        scopes: Scopes | None = None,
        *,
        sims: Mapping[str, Any] | None = None,
        venues: Iterable[str] = (),
        sockets: bool = False,
    ) -> None:
        items = {scope_key(k): v for k, v in (scopes or {}).items()}
        self.root, self.repo = root, root / "repo"
        self.policy = self.repo / "policies" / "desk.yaml"
        self.desired: dict[ScopeKey, MmpConfig | None] = {k: d for k, (d, _) in items.items()}
        self._seeds = {k: live for k, (_, live) in items.items() if live is not None}
        wanted = {k.venue for k in items} | set(venues) | set(sims or {})
        given = dict(sims or {})
        self.sims: dict[str, Any] = {
            venue: default_sim(venue) if given.get(venue) is None else given[venue]
            for venue in wanted
        }
        self.servers = {venue: Gated(sim) for venue, sim in self.sims.items()}
        self.sockets = sockets
        self.urls: dict[str, str] = {}
        self.credentials: dict[str, Credentials] = {}  # account -> its credentials
        self.env = child_env()
        self.processes: list[Spawned] = []
        self._runs = itertools.count(1)
        self._stack = ExitStack()

    def __enter__(self) -> LiveDesk:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        for venue, gated in sorted(self.servers.items()):
            push = getattr(self.sims[venue], "ws", None) if self.sockets else None
            served = serve(gated) if push is None else serve(gated, push=push)
            self.urls[venue] = self._stack.enter_context(served)
        self._stack.callback(self._stop_everything)  # runs first: before the servers stop
        for key in sorted(set(self.desired) | set(self._seeds), key=ScopeKey.sort_key):
            self.account(key.venue, key.account)
        for key, config in self._seeds.items():
            self.seed(key, config)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        self.repo.mkdir(parents=True, exist_ok=True)
        self._git("init", "-q", "-b", "main")  # the branch heal heals on
        (self.repo / ".gitignore").write_text(".mmp/\n", encoding="utf-8")
        self.write_policy()
        self.commit("the desk")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def _stop_everything(self) -> None:
        for proc in self.processes:  # only the processes this desk started
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for gated in self.servers.values():
            gated.release_all()

    # ---- accounts and policies ----

    def account(self, venue: str, name: str) -> Credentials:
        """Create the account on the venue's simulator (once); its variables go to env."""
        if name not in self.credentials:
            sim = self.sims[venue]
            with sim._lock:
                creds: Credentials = ROWS[venue].credentials(sim, name)
            self.credentials[name] = creds
            for suffix, value in creds.values.items():
                self.env[f"{credentials_prefix(name)}_{suffix}"] = value
        return self.credentials[name]

    def declare(self, changes: Changes, message: str = "") -> str:
        """Change the desired state of these scopes, rewrite the policy file and commit it;
        returns the new commit."""
        for scope, config in changes.items():
            key = scope_key(scope)
            self.account(key.venue, key.account)
            self.desired[key] = config
        self.write_policy()
        return self.commit(message or f"declare {len(changes)} scope(s)")

    def undeclare(self, *scopes: ScopeLike) -> str:
        """Take scopes out of the policies (they become unmanaged) and commit."""
        for scope in scopes:
            self.desired.pop(scope_key(scope), None)
        self.write_policy()
        return self.commit(f"undeclare {len(scopes)} scope(s)")

    def write_policy(self) -> None:
        self.policy.parent.mkdir(parents=True, exist_ok=True)
        self.policy.write_text(policy_yaml(self.desired, self.urls), encoding="utf-8")

    def commit(self, message: str) -> str:
        self._git("add", "--all", ".")
        self._git("commit", "-q", "--allow-empty", "-m", message)
        return self._git("rev-parse", "HEAD").strip()

    def _git(self, *args: str) -> str:
        identity = ["-c", "user.name=procs", "-c", "user.email=procs@localhost"]
        done = subprocess.run(
            ["git", *identity, "-c", "commit.gpgsign=false", *args],
            cwd=self.repo,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout

    # ---- gates and venue controls ----

    def gate(self, venue: str, predicate: Predicate, *, nth: int = 1, before: bool = True) -> Gate:
        """Hold the nth request to `venue` matching `predicate` (see Gate)."""
        return self.servers[venue].add(Gate(predicate, nth=nth, before=before))

    def seen(self, venue: str, predicate: Predicate | None = None) -> list[httpx.Request]:
        """Requests that reached the venue's server (held ones included), in order."""
        with self.servers[venue]._lock:
            seen = list(self.servers[venue].seen)
        return [r for r in seen if predicate is None or predicate(r)]

    def seed(self, scope: ScopeLike, config: MmpConfig) -> None:
        key = scope_key(scope)
        sim = self.sims[key.venue]
        creds = self.account(key.venue, key.account)
        with sim._lock:
            ROWS[key.venue].seed(sim, creds, key, config)

    def trigger(self, scope: ScopeLike) -> None:
        """Trip MMP on a configured scope, as a burst of fills would."""
        key = scope_key(scope)
        sim = self.sims[key.venue]
        with sim._lock:
            ROWS[key.venue].trigger(sim, self.credentials[key.account], key)

    def settle(self) -> None:
        """Bullish: apply every acknowledged command now instead of after its delay."""
        sim = self.sims.get("bullish")
        if sim is not None:
            with sim._lock:
                sim.settle()

    # ---- live state ----

    def scope(self, scope: ScopeLike) -> LiveScope | None:
        """What the venue reports for one scope now (None: nothing at all), read through
        our own client straight from the simulator, past every gate."""
        key = scope_key(scope)
        return asyncio.run(self._read(key)).get(key)

    def live(self, scope: ScopeLike) -> MmpConfig | None:
        found = self.scope(scope)
        return None if found is None else found.config

    def frozen(self, scope: ScopeLike) -> bool:
        """Whether the venue has the scope frozen: its simulator's own truth where REST may
        not show it (a simulator with `is_frozen`), else what the venue reports."""
        key = scope_key(scope)
        sim = self.sims[key.venue]
        if hasattr(sim, "is_frozen"):
            with sim._lock:
                return bool(sim.is_frozen(ROWS[key.venue].key_prefix + key.account, key.underlying))
        found = self.scope(key)
        return found is not None and found.freeze.frozen

    async def _read(self, key: ScopeKey) -> dict[ScopeKey, LiveScope]:
        http = httpx.AsyncClient(
            base_url=self.urls[key.venue], transport=httpx.MockTransport(self.sims[key.venue])
        )
        client = client_of(key.venue, key.account, self.credentials[key.account], http)
        try:
            account = await client.read(frozenset({key.underlying}))
        finally:
            await client.aclose()
        return account.by_key()

    # ---- processes ----

    def spawn(self, *args: str, env: Mapping[str, str] | None = None) -> Spawned:
        """Start `python -m reconciler ARGS` in the repository without waiting."""
        logs = self.root / "runs" / f"{next(self._runs):03d}"
        command = [sys.executable, "-m", "reconciler", *args]
        proc = Spawned(command, self.repo, {**self.env, **(env or {})}, logs)
        self.processes.append(proc)
        return proc

    def mmp(self, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None) -> Result:
        """Run `python -m reconciler ARGS` in the repository to its end."""
        return self.spawn(*args, env=env).finish(timeout)

    def journal(self, path: Path | None = None) -> JournalFile:
        """The journal (default .mmp/journal.jsonl in the repository)."""
        return JournalFile.read(path or self.repo / ".mmp" / "journal.jsonl")


# ---- a small disk -------------------------------------------------------------------------


@contextmanager
def small_disk(where: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` KiB mounted at `where`, for a journal that runs out of room.

    Needs the right to mount (root, as on this project's CI machines): elsewhere the test
    is skipped, except under CI (MMP_CI=1), where a missing capability fails the suite."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = f"cannot mount a small tmpfs here ({done.stderr.strip() or done.returncode})"
        if os.environ.get("MMP_CI"):
            raise AssertionError(why + "; CI must be able to (run as root)")
        import pytest

        pytest.skip(why)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(folder: Path) -> int:
    """Write one file into `folder` until its disk is full; returns the bytes written."""
    written = 0
    with (folder / "filler").open("wb", buffering=0) as handle:
        chunk = b"\0" * 4096
        while True:
            try:
                written += handle.write(chunk) or 0
            except OSError:
                return written
            if written > 1 << 30:
                raise AssertionError(f"{folder} never filled up")
