"""The workflows' steps, each run as its job runs it: the step's one `mmp github` line, taken
from the workflow file, run by bash in a fresh checkout with the environment the job and the
step set and the variables GitHub sets for every step, against the sandbox venues and a fake
GitHub API on loopback. A typo in a workflow's `run:` fails this suite.

What passes between jobs is copied as the workflows' artifacts carry it (the saved plan to
the apply job, the shard plans to the report; tests/test_workflows.py checks those paths and
everything else only the YAML decides: conditions, environments, the matrix). The venues'
state is carried from job to job, as a real venue keeps its settings. Every secret holds a
canary that must never appear in any output.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from reconciler.commands.github.steps import fenced, force_warning, forced, shard_name
from reconciler.core.errors import GitHubError
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.planning.render.markdown import MARKER
from reconciler.sandbox.desk import SimulatorDesk
from reconciler.sandbox.store import Sandbox
from reconciler.simulators.server import serve
from reconciler.venues import VENUES as REGISTERED
from tests.checked import named_in
from tests.fakes.github import FakeGitHub
from tests.figures import Figures, line_of
from tests.venues import ROWS
from tests.workflow_files import REPO, mmp_step, secret_names, step_env

REPOSITORY = "desk/mmp-policies"
TOKEN = "ghs_workflowtoken0001"
CANARY = "CANARY-8f3e2d1c"
PR = 7
SHA = "5a1d3c0ffee0ddba11fade5a1d3c0ffee0ddba11"  # main's head when each job started (GITHUB_SHA)
VENUES = list(REGISTERED)  # one drift shard per venue
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]  # GitHub's `shell: bash`


@dataclass
class Ran:
    """One step's run: its exit, output, job summary and step outputs, and its workspace."""

    code: int
    stdout: str
    stderr: str
    summary: str
    outputs: dict[str, str]
    workspace: Path

    @property
    def text(self) -> str:
        return self.stdout + self.stderr + self.summary


@dataclass
class Desk:
    """One policy repository's runs: a fresh checkout per job, the venues' state kept."""

    root: Path
    api_url: str
    fake: FakeGitHub
    policies: Path = REPO / "policies"
    actor: str = "desk-bot"
    venue_state: bytes | None = None
    jobs: int = 0
    shown: list[str] = field(default_factory=list)  # everything any step printed

    def checkout(self) -> Path:
        self.jobs += 1
        workspace = self.root / f"job{self.jobs}"
        shutil.copytree(self.policies, workspace / "policies")
        if self.venue_state is not None:
            (workspace / ".mmp").mkdir()
            (workspace / ".mmp" / "sandbox.json").write_bytes(self.venue_state)
        return workspace

    def keep_venue_state(self, workspace: Path) -> None:
        state = workspace / ".mmp" / "sandbox.json"
        if state.exists():
            self.venue_state = state.read_bytes()

    def start(
        self,
        where: tuple[str, str, str],
        workspace: Path,
        event_name: str,
        event: Mapping[str, object] | None = None,
        given: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """Start the step of workflow `where[0]`, job `where[1]`, that runs `mmp github
        where[2]`; `given` holds the values of its `${{ }}`, e.g. {"inputs.force": "true"}."""
        workflow, job_name, action = where
        step = mmp_step(workflow, job_name, action)
        values = {f"secrets.{name}": f"{CANARY}-{name}" for name in secret_names()}
        values |= {"github.token": TOKEN, **(given or {})}
        _file(workspace, "event").write_text(json.dumps(event or {}), encoding="utf-8")
        _file(workspace, "output").write_text("")
        _file(workspace, "summary").write_text("")
        env = self._github_env(event_name, workspace) | step_env(workflow, job_name, step, values)
        return subprocess.Popen(
            [*BASH, str(step["run"])],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, started: subprocess.Popen[str], workspace: Path) -> Ran:
        stdout, stderr = started.communicate(timeout=300)
        lines = _file(workspace, "output").read_text().splitlines()
        outputs = dict(line.split("=", 1) for line in lines if "=" in line)
        summary = _file(workspace, "summary").read_text(encoding="utf-8")
        self.shown += [stdout, stderr, summary]
        return Ran(started.returncode, stdout, stderr, summary, outputs, workspace)

    def run(
        self,
        where: tuple[str, str, str],
        workspace: Path,
        event_name: str,
        event: Mapping[str, object] | None = None,
        given: Mapping[str, str] | None = None,
    ) -> Ran:
        ran = self.finish(self.start(where, workspace, event_name, event, given), workspace)
        self.keep_venue_state(workspace)
        self.keep_journal(where, workspace)
        return ran

    def journaled_runs(self) -> set[str]:
        """The runs the kept `mmp-journal` artifacts have records of."""
        runs: set[str] = set()
        for artifact in self.fake.artifacts:
            with zipfile.ZipFile(io.BytesIO(artifact.archive)) as zipped:
                if "journal.jsonl" in zipped.namelist():
                    text = zipped.read("journal.jsonl").decode()
                    runs |= {json.loads(line)["run"] for line in text.splitlines()}
        return runs

    def keep_journal(self, where: tuple[str, str, str], workspace: Path) -> None:
        """The job's `mmp-journal` artifact (its upload step runs `if: always()`): the apply
        job's journal.jsonl and apply.txt, the heal job's journal when there is one."""
        folder = {APPLY: workspace / ".mmp", HEAL: workspace / ".mmp" / "heal"}.get(where)
        if folder is None:
            return
        names = ["journal.jsonl", "apply.txt"] if where == APPLY else ["journal.jsonl"]
        files = {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()}
        if files:
            self.fake.upload("mmp-journal", files, run_id=self.jobs)

    def _github_env(self, event_name: str, workspace: Path) -> dict[str, str]:
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": self.api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_SHA": SHA,
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REF_NAME": "main",
            "GITHUB_RUN_ID": str(self.jobs),
            "GITHUB_ACTOR": self.actor,
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(_file(workspace, "event")),
            "GITHUB_OUTPUT": str(_file(workspace, "output")),
            "GITHUB_STEP_SUMMARY": str(_file(workspace, "summary")),
            "MMP_SANDBOX": "1",  # the venues are the simulators
        }
        if "PYTHONPATH" in os.environ:  # a checkout not installed: the same one for the steps
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return env


def _file(workspace: Path, name: str) -> Path:
    """A file GitHub keeps for the step outside its workspace: event, output, summary."""
    return workspace.parent / f"{workspace.name}-{name}"


PR_PLAN = ("mmp-plan.yml", "plan", "plan")
APPLY_PLAN = ("mmp-apply.yml", "plan", "plan")
APPLY = ("mmp-apply.yml", "apply", "apply")
SHARD = ("mmp-drift.yml", "plan", "shard")
REPORT = ("mmp-drift.yml", "report", "drift")
HEAL = ("mmp-drift.yml", "heal", "heal")


@pytest.fixture(scope="module")
def github_api() -> Iterator[tuple[str, list[FakeGitHub]]]:
    """One loopback server for the module, answering as the current test's fake GitHub."""
    current: list[FakeGitHub] = []
    with serve(lambda request: current[-1](request)) as api_url:
        yield api_url, current


@pytest.fixture
def desk(tmp_path: Path, github_api: tuple[str, list[FakeGitHub]]) -> Desk:
    api_url, current = github_api
    fake = FakeGitHub(REPOSITORY, tokens={TOKEN: "write"})
    fake.add_pull_request(PR)
    fake.branches["main"] = SHA
    current.append(fake)
    return Desk(tmp_path / "runs", api_url, fake)


def _pr_event(head_repo: str = REPOSITORY) -> dict[str, object]:
    return {
        "number": PR,
        "pull_request": {"number": PR, "head": {"repo": {"full_name": head_repo}}},
    }


def _plan_pr(desk: Desk, head_repo: str = REPOSITORY) -> Ran:
    return desk.run(PR_PLAN, desk.checkout(), "pull_request", _pr_event(head_repo))


def _merge(
    desk: Desk, event_name: str = "push", given: Mapping[str, str] | None = None
) -> tuple[Ran, Ran]:
    """The apply workflow's plan job, then its apply job on the plan the first saved (the
    mmp-plan artifact: .mmp/plan.json and .mmp/plan.txt, downloaded into .mmp)."""
    plan = desk.run(APPLY_PLAN, desk.checkout(), event_name, given=given)
    assert plan.code == 0, plan.text
    workspace = desk.checkout()
    (workspace / ".mmp").mkdir(exist_ok=True)
    for name in ("plan.json", "plan.txt"):
        shutil.copy2(plan.workspace / ".mmp" / name, workspace / ".mmp" / name)
    return plan, desk.run(APPLY, workspace, event_name, given=given)


def _drift(
    desk: Desk, failing: str | None = None, healed: Ran | None = None
) -> tuple[Ran, list[Ran]]:
    """The venue shards side by side (a matrix), then the report on the plans of those
    that succeeded (each shard's mmp-drift-VENUE artifact is its .mmp/drift/ folder, all
    merged into the report's .mmp/drift). Shards only read: the venues' state they leave
    is not kept. The `failing` venue's runner cannot read its venue: that shard fails.
    `healed`: the run's heal job, which ran first (_heal); without, the heal job was skipped
    (a dispatch off main: its `if:`), and left no mmp-heal artifact."""
    started = []
    for venue in VENUES:
        workspace = desk.checkout()
        if venue == failing:
            (workspace / ".mmp").mkdir(exist_ok=True)
            (workspace / ".mmp" / "sandbox.json").write_text("not json")
        given = {"matrix.venue": venue}
        started.append((desk.start(SHARD, workspace, "schedule", given=given), workspace))
    shards = [desk.finish(process, workspace) for process, workspace in started]
    report = desk.checkout()
    (report / ".mmp" / "drift").mkdir(parents=True)
    for shard in shards:
        if shard.code == 0:
            for plan in (shard.workspace / ".mmp" / "drift").iterdir():
                shutil.copy2(plan, report / ".mmp" / "drift" / plan.name)
    kept = None if healed is None else healed.workspace / ".mmp" / "heal"
    if kept is not None and kept.is_dir():  # the mmp-heal artifact (kept also on failure)
        shutil.copytree(kept, report / ".mmp" / "heal")
    return desk.run(REPORT, report, "schedule"), shards


def _heal(desk: Desk) -> Ran:
    """The drift workflow's first job: heal, with the trading keys (mmp-heal), on main."""
    return desk.run(HEAL, desk.checkout(), "schedule")


def _plan_comments(fake: FakeGitHub) -> list[str]:
    return [c.body for c in fake.comments_on(PR) if c.body.startswith(MARKER)]


def test_a_desk_through_the_workflow_steps(desk: Desk, figures: Figures) -> None:
    fake = desk.fake
    for n in range(3):  # other people's comments, so the marker is looked for across pages
        fake.add_comment(PR, f"looks good {n}")

    # 1. The pull request is planned: one comment, the same Markdown in the job summary,
    # headed by the plan's summary; its risks (the replacement gap; held: two frozen and
    # Binance's trigger unresolved; freeze state unknown: Bullish's three written, flagged,
    # Binance's one held for a person) as the example desk gives them.
    first = _plan_pr(desk)
    assert first.code == 0, first.text
    [body] = _plan_comments(fake)
    summary = line_of((first.workspace / ".mmp" / "plan.txt").read_text(), "Plan: ")
    figures.check("sandbox.plan.summary", summary)
    heading = "### MMP plan (sandbox: simulators, not venues): "
    heading += summary.removeprefix("Plan: changes; ")
    assert body.startswith(f"{MARKER}\n{heading}\n")
    figures.check("github.plan.risks", [line for line in body.splitlines() if line[:4] == "- **"])
    assert "<details><summary>Field details</summary>" in body
    assert first.summary == body
    assert first.outputs == {"changes": "true"}

    # 2. Another push: the same comment is found by its marker and edited, never a second.
    again = _plan_pr(desk)
    assert again.code == 0, again.text
    assert len(_plan_comments(fake)) == 1
    assert not [r for r in fake.requests if r[0] == "POST" and r[1].endswith("/comments")][1:]

    # 3. The drift check (a shard per venue, one report) opens one issue naming the scopes;
    # its heal job is skipped here (as on a dispatch off main: its `if:`), so this is the
    # read-only check (the heal job: test_the_drift_workflow_heals_in_the_safe_direction...).
    report, shards = _drift(desk)
    assert report.code == 0, report.text
    names = sorted(p.name for s in shards for p in (s.workspace / ".mmp" / "drift").iterdir())
    assert names == [f"venue-{venue}.json" for venue in sorted(VENUES)]
    [issue] = fake.issues_labelled("mmp-drift")
    figures.check("github.drift.title", issue.title)
    assert "`bullish/bullish-mm/BTC`" in issue.body
    assert (
        "**Freeze state unknown**: 3 scope(s) whose freeze state is unknown, with no trigger "
        "seen, are written by an apply: if one is frozen, the write may end the freeze"
    ) in issue.body

    # 4. Merge: the plan job shows the reviewers the plan, the apply job applies that plan.
    plan, apply = _merge(desk)
    assert plan.outputs == {"changes": "true"}
    assert heading in plan.summary.splitlines()  # the plan the pull request showed
    assert "Dispatched with force" not in plan.summary
    assert apply.code == 0, apply.text
    finished = re.search(r"Apply finished: (\d+) applied\. Exit 0", apply.stdout)
    assert finished, apply.stdout
    figures.check("sandbox.apply.applied", int(finished[1]))
    assert "```\n" in apply.summary and finished[0] in apply.summary
    kept = apply.workspace / ".mmp"  # what the mmp-journal artifact keeps
    assert (kept / "journal.jsonl").read_text().count('"outcome":"applied"') == int(finished[1])
    assert (kept / "apply.txt").read_text() == apply.stdout

    # 5. Nothing left to apply: the plan job says so (and the apply job's `if:` skips it).
    plan = desk.run(APPLY_PLAN, desk.checkout(), "push")
    assert plan.code == 0 and plan.outputs == {"changes": "false"}, plan.text

    # 6. Nothing to write, but the frozen scopes still differ from the policies: the issue
    # stays open, updated (never a second one), listing them as pending until they converge.
    assert _drift(desk)[0].code == 0
    [still] = fake.issues_labelled("mmp-drift", "all")
    assert still.number == issue.number and still.state == "open"
    figures.check("github.drift.title-after-apply", still.title)
    assert "pending: held (frozen), will be applied once unfrozen" in still.body
    assert (
        "pending: held (its write may end the freeze of deribit/deribit-main/btc_usd/"
        "MassQuoteBot7), applied once that is unfrozen, or written anyway by `mmp apply "
        "--include-held deribit/deribit-main/btc_usd --reason TEXT`"
    ) in still.body
    assert (  # a trigger whose end the venue does not tell: never "once unfrozen"
        "pending: held (freeze state unknown: the venue recorded a trigger and does not tell "
        "its end), written once a person checks it on the venue: `mmp apply --include-held "
        f"{named_in(still.body, 'binance/binance-mm/ETHUSDT')} --reason TEXT`"
    ) in still.body
    assert "**Freeze state unknown**" not in still.body.split("### MMP plan")[0]

    # 7. A pull request now has nothing to apply; the comment is in full while a declared
    # scope has no MMP (deribit-main's Block RFQ btc_usd, held: a set of it may end the
    # freeze of the account's MassQuoteBot7), Unprotected its first risk flag
    assert _plan_pr(desk).code == 0
    [body] = _plan_comments(fake)
    flags = [line for line in body.splitlines() if line[:4] == "- **"]
    assert flags[0].startswith("- **Unprotected**: 1 scope(s) are declared"), body
    assert "`deribit/deribit-main/block_rfq:btc_usd`" in flags[0]
    _no_canary(desk)


def _no_canary(desk: Desk) -> None:
    texts = [*desk.shown, *(c.body for c in desk.fake.comments.values())]
    texts += [i.body for i in desk.fake.issues.values()]
    texts += [p.read_text(errors="replace") for p in desk.root.rglob("*") if p.is_file()]
    assert not [text for text in texts if CANARY in text]


def _on_the_venue(
    desk: Desk, venue: str, account: str, underlying: str, config: MmpConfig | None
) -> None:
    """What a person does on a venue's web page between two runs: set the scope's config
    (an MmpConfig), or take it out (None)."""
    workspace = desk.checkout()
    with Sandbox(REGISTERED, workspace / ".mmp" / "sandbox.json").edit(venue) as stored:
        sandbox = cast(SimulatorDesk[Any], stored)
        key = ScopeKey(venue, account, underlying)
        if config is None:  # Deribit: the default group's config taken out
            del sandbox.sim.accounts[sandbox.key(account)].configs[(underlying, None)]
        else:
            ROWS[venue].seed(sandbox.sim, sandbox.credentials(account), key, config)
    desk.keep_venue_state(workspace)


def _venues_now(desk: Desk) -> dict[str, dict[str, Any]]:
    """Each scope as the venues hold it now (read by `mmp plan --format json` in a fresh
    checkout): its step, with the live config as `before`."""
    workspace = desk.checkout()
    env = desk._github_env("schedule", workspace)
    argv = [sys.executable, "-m", "reconciler", "plan", "--format", "json"]
    done = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    desk.shown += [done.stdout, done.stderr]
    return {step["scope"]: step for step in json.loads(done.stdout)["steps"]}


def _killed_between_reset_and_set(desk: Desk, scope: str, runner_lost: bool = False) -> Ran:
    """The apply workflow on a merge, its apply step killed between a replacement's reset
    and its set: SIGKILL the moment the journal says the venue took the reset. The set goes
    out only once a read shows the reset in force (the sandbox's Bullish applies a command
    200 ms after acknowledging it), so the kill lands in the gap. The runner lives on, so
    the job's `if: always()` step keeps the journal (`mmp-journal`); `runner_lost`: it
    does not (the machine itself went), and no journal is kept."""
    plan = desk.run(APPLY_PLAN, desk.checkout(), "push")
    assert plan.code == 0 and plan.outputs == {"changes": "true"}, plan.text
    workspace = desk.checkout()
    (workspace / ".mmp").mkdir(exist_ok=True)
    shutil.copy2(plan.workspace / ".mmp" / "plan.json", workspace / ".mmp" / "plan.json")
    earlier = desk.journaled_runs()  # the history the step gathers into its journal first
    started = desk.start(APPLY, workspace, "push")
    journal = workspace / ".mmp" / "journal.jsonl"
    deadline = time.monotonic() + 60
    while not _answered(journal, scope, earlier):
        assert started.poll() is None, "apply ended before its reset was answered"
        assert time.monotonic() < deadline, "the reset was never answered"
        time.sleep(0.002)
    started.kill()
    killed = desk.finish(started, workspace)
    desk.keep_venue_state(workspace)
    if not runner_lost:
        desk.keep_journal(APPLY, workspace)
    assert killed.code == -signal.SIGKILL, killed.text
    mine = [r for r in _records(journal) if r["run"] not in earlier]
    assert "replace-set" not in [r["event"] for r in mine]  # the set never went out
    return killed


def _records(journal: Path) -> list[dict[str, Any]]:
    text = journal.read_text() if journal.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def _answered(journal: Path, scope: str, earlier: set[str]) -> bool:
    return any(
        r["event"] == "write-answered" and r.get("scope") == scope and r["run"] not in earlier
        for r in _records(journal)
    )


def test_the_drift_workflow_heals_in_the_safe_direction_and_leaves_the_rest(
    desk: Desk, tmp_path: Path
) -> None:
    """The policies enable healing (policies/guardrails.yaml), so the drift workflow's
    heal job runs first with the trading keys: it re-creates a scope a killed apply left
    without MMP and one a person took out on the venue, and puts back a limit a person
    raised; it leaves, and the issue lists for a person, a change that would loosen, one
    that mixes a tightening with a loosening, the frozen scopes and the unmanaged ones."""
    assert _merge(desk)[1].code == 0  # the desk as merged, applied
    desk.policies = tmp_path / "tighter"  # a merged tightening of Bullish BTC (a replacement)
    shutil.copytree(REPO / "policies", desk.policies)
    policy = desk.policies / "desk-alpha.yaml"
    btc = "        quantity_limit: 8\n        delta_limit: 1\n"
    assert btc in policy.read_text()
    policy.write_text(policy.read_text().replace(btc, btc.replace(": 8", ": 6")))
    killed = _killed_between_reset_and_set(desk, "bullish/bullish-mm/BTC")
    starts = _records(killed.workspace / ".mmp" / "journal.jsonl")
    killed_run = [r["run"] for r in starts if r["event"] == "apply-start"][-1]
    before = _venues_now(desk)
    assert before["bullish/bullish-mm/BTC"]["action"] == "create"  # UNPROTECTED now
    aevo_btc = before["aevo/aevo-mm/BTC"]  # frozen since the sandbox was seeded
    assert aevo_btc["action"] == "held" and aevo_btc["freeze"]["frozen"] is True
    # On the venues' web pages: a limit raised (OKX), a config taken out (Deribit hedge);
    # a limit lowered below the policy (Bybit: putting it back would loosen); a
    # window lengthened and a limit raised at once (Binance: a mixed change).
    okx = ScopeKey("okx", "okx-mm", "BTC-USD")
    raised = _config(before[str(okx)]).with_changes(quantity_limit=Decimal(150))
    _on_the_venue(desk, "okx", "okx-mm", "BTC-USD", raised)
    _on_the_venue(desk, "deribit", "deribit-hedge", "btc_usd", None)
    lowered = _config(before["bybit/bybit-mm/BTC"]).with_changes(quantity_limit=Decimal(20))
    _on_the_venue(desk, "bybit", "bybit-mm", "BTC", lowered)
    mixed = _config(before["binance/binance-mm/BTCUSDT"]).with_changes(
        window_ms=5000, quantity_limit=Decimal(3)
    )
    _on_the_venue(desk, "binance", "binance-mm", "BTCUSDT", mixed)

    earlier = desk.journaled_runs()
    reads = desk.fake.ref_reads + 1  # main read once by the step gathering the journals
    heal = _heal(desk)
    assert heal.code == 4, heal.text  # deribit-main's Block RFQ btc_usd: bare, held
    healed = re.findall(r"^  applied +(\S+)$", heal.stdout, re.M)
    assert sorted(healed) == [
        "bullish/bullish-mm/BTC",
        "deribit/deribit-hedge/btc_usd",
        "okx/okx-mm/BTC-USD",
    ]
    assert "Heal finished: 3 applied. Exit 4: 1 scope(s) may be without MMP" in (heal.stdout)
    assert f"```\n{heal.stdout}```\n" == heal.summary  # what it printed, in the job summary
    rest = heal.stdout.split("Left for a person")[1]
    left = {scope: why for why, scope in re.findall(r"^  ([a-z ]+?) +(\S+): ", rest, re.M)}
    assert {scope: left.get(scope) for scope in LEFT} == LEFT, left
    kept = heal.workspace / ".mmp" / "heal"  # the mmp-heal artifact
    # the journal it gathered (mmp-journal artifacts): the killed apply, what it took away
    assert f"apply run {killed_run} (started " in heal.stdout, heal.stdout
    assert "as strict as before an unfinished run took it away, or stricter" in heal.stdout
    records = _records(kept / "journal.jsonl")
    assert killed_run in {r["run"] for r in records}  # carried forward
    records = [r for r in records if r["run"] not in earlier]  # the heal run's own
    assert sorted(r["scope"] for r in records if r["event"] == "heal") == sorted(healed)
    assert [r["exit_code"] for r in records if r["event"] == "apply-end"] == [4]
    assert [r["runs"] for r in records if r["event"] == "recovered"] == [[killed_run]]
    # before each write, main was asked for (its GITHUB_TOKEN) and found where it was
    branch = json.loads((kept / "heal.json").read_text())["branch"]
    assert branch == {
        "name": "main",
        "read_at": SHA,
        "checks": desk.fake.ref_reads - reads,
        "moved_to": None,
        "unknown": None,
    }
    assert 1 <= branch["checks"] <= 3  # side by side, the accounts' checks may share one

    report, _ = _drift(desk, healed=heal)
    assert report.code == 0, report.text
    [issue] = desk.fake.issues_labelled("mmp-drift")
    assert issue.title.endswith(", 3 healed by this run)"), issue.title
    head = issue.body.split("### MMP plan")[0]
    assert (
        "**Healed** by this run ([the run](https://github.com/desk/mmp-policies/actions/runs/"
        in head
    )
    assert "3 of 3 scope(s) put back as the policies declare them" in head
    assert "- `bullish/bullish-mm/BTC`: create, healed (" in head
    assert "- `okx/okx-mm/BTC-USD`: update, healed (quantity_limit 150 → 100)" in head
    person = head.split("**Needs a person**")[1]
    for scope, why in LEFT.items():
        assert f"- `{scope}`: {why}" in person, scope
    # the shards planned after the heal: only the held Block RFQ create is without MMP
    unprotected = head.split("**UNPROTECTED**")[1].split("**", 1)[0]
    assert "deribit/deribit-main/block_rfq:btc_usd" in unprotected
    assert "bullish/bullish-mm/BTC" not in unprotected

    after = _venues_now(desk)
    assert after["bullish/bullish-mm/BTC"]["action"] == "unchanged"  # the merged config
    assert after["bullish/bullish-mm/BTC"]["before"]["quantity_limit"] == "6"
    assert after["deribit/deribit-hedge/btc_usd"]["action"] == "unchanged"
    assert after[str(okx)]["action"] == "unchanged"
    assert after["bybit/bybit-mm/BTC"]["before"]["quantity_limit"] == "20"  # kept
    assert _config(after["binance/binance-mm/BTCUSDT"]) == mixed  # neither half written
    assert after["aevo/aevo-mm/BTC"] == aevo_btc  # frozen, untouched

    kept_journals = len(desk.fake.artifacts)
    again = _heal(desk)  # the next scheduled run: nothing left it may heal
    assert again.code == 4 and "Nothing to heal." in again.stdout, again.text
    assert "was interrupted" not in again.stdout  # the heal's `recovered` was carried forward
    assert len(desk.fake.artifacts) == kept_journals  # it wrote nothing: no journal kept
    assert _drift(desk, healed=again)[0].code == 0
    [still] = desk.fake.issues_labelled("mmp-drift")
    assert still.number == issue.number and "**Healed**" not in still.body
    assert "**Needs a person**" in still.body and "healed by this run" not in still.title
    _no_canary(desk)


def test_the_heal_job_writes_nothing_once_main_moved_and_the_issue_says_why(
    desk: Desk,
) -> None:
    """A pull request is merged while the heal job plans (issue 19): GitHub's main moves
    before heal's first write. Heal, planning from the older policies, writes nothing (a
    merged change could otherwise be undone, unattended): journaled, in heal.json, and the
    drift issue says why nothing was healed; exit 4, as the scope to create is still
    without MMP."""
    assert _merge(desk)[1].code == 0
    _on_the_venue(desk, "deribit", "deribit-hedge", "btc_usd", None)  # heal would re-create
    before = {scope: step["before"] for scope, step in _venues_now(desk).items()}
    merged = "c0ffee" * 6 + "beef"

    def merge_lands(number: int) -> None:
        desk.fake.branches["main"] = merged  # before heal's first check is answered

    desk.fake.on_ref = merge_lands
    earlier = desk.journaled_runs()
    heal = _heal(desk)
    assert heal.code == 4, heal.text
    said = (
        f"`main` moved from {SHA[:7]} to {merged[:7]} while heal planned: nothing (more) "
        "written; the next scheduled run heals from the new policies."
    )
    assert said in heal.stdout and said in heal.summary
    assert {scope: step["before"] for scope, step in _venues_now(desk).items()} == before
    kept = heal.workspace / ".mmp" / "heal"
    records = [r for r in _records(kept / "journal.jsonl") if r["run"] not in earlier]
    assert [(r["event"], r["now"]) for r in records if r["event"].startswith("branch-")] == [
        ("branch-moved", merged)
    ]
    assert not [r for r in records if r["event"] in ("set-sent", "reset-sent")]
    report = json.loads((kept / "heal.json").read_text())
    assert report["exit_code"] == 4 and report["branch"]["moved_to"] == merged

    assert _drift(desk, healed=heal)[0].code == 0
    [issue] = desk.fake.issues_labelled("mmp-drift")
    head = issue.body.split("### MMP plan")[0]
    assert (
        f"**Heal stopped**: `main` moved from {SHA[:7]} to {merged[:7]} while heal planned "
        "([the run](https://github.com/desk/mmp-policies/actions/runs/"
    ) in head
    assert "nothing (more) was written from the older policies; the next scheduled run " in head
    assert "- `deribit/deribit-hedge/btc_usd`: create, NOT healed (not-run): not run: `main` " in (
        head
    )
    assert "**UNPROTECTED**" in head and "healed by this run" not in issue.title
    _no_canary(desk)


LEFT = {  # what heal leaves for a person, and why (as `mmp heal` and the issue say it)
    "bybit/bybit-mm/BTC": "loosening",
    "deribit/deribit-main/eth_usd": "held",  # a set may end its account's frozen group's
    "binance/binance-mm/BTCUSDT": "mixed",
    "aevo/aevo-mm/BTC": "held",
    "deribit/deribit-main/btc_usd/MassQuoteBot7": "held",
    "binance/binance-mm/SOLUSDT": "unmanaged",
}


def _config(step: Mapping[str, Any]) -> MmpConfig:
    return MmpConfig.from_data(step["before"])


def test_a_broken_policy_replaces_the_plan_comment(desk: Desk, tmp_path: Path) -> None:
    assert _plan_pr(desk).code == 0
    desk.policies = tmp_path / "broken"
    shutil.copytree(REPO / "policies", desk.policies)
    policy = desk.policies / "desk-alpha.yaml"
    policy.write_text(policy.read_text().replace("quantity_limit: 50", "quantity_limit: fifty"))
    failed = _plan_pr(desk)
    assert failed.code == 1
    assert "changes" not in failed.outputs
    assert not (failed.workspace / ".mmp" / "plan.json").exists()
    [body] = _plan_comments(desk.fake)
    assert body.startswith(f"{MARKER}\n### MMP plan failed")
    assert "desk-alpha.yaml:" in body and "fifty" in body
    assert failed.summary == body
    _no_canary(desk)


def test_a_fork_pull_request_makes_no_request(desk: Desk) -> None:
    """The plan job does not even run for a fork (its `if:`); were it run, the comment is
    not attempted with the fork's read-only token, and the plan is in the job summary."""
    ran = _plan_pr(desk, head_repo="stranger/mmp-policies")
    assert ran.code == 1
    assert "comes from a fork" in ran.stderr and "no request made" in ran.stderr
    assert "### MMP plan" in ran.summary
    assert desk.fake.requests == []


def test_a_dispatch_in_plan_mode_plans_one_account(desk: Desk, figures: Figures) -> None:
    """mode plan: the plan job alone (the apply job's `if:` needs mode apply); mode apply:
    the apply job applies what the plan job planned for that account."""
    # deribit-hedge: deribit-main's writes are held while its MassQuoteBot7 is frozen
    given = {"inputs.mode": "plan", "inputs.account": "deribit-hedge"}
    plan = desk.run(APPLY_PLAN, desk.checkout(), "workflow_dispatch", given=given)
    assert plan.code == 0 and plan.outputs == {"changes": "true"}, plan.text
    assert "filtered run" in plan.stdout
    given["inputs.mode"] = "apply"
    _, apply = _merge(desk, "workflow_dispatch", given)
    assert apply.code == 0, apply.text
    finished = re.search(r"Apply finished: (\d+) applied", apply.stdout)
    assert finished, apply.stdout
    figures.check("github.dispatch.deribit-hedge.applied", int(finished[1]))


def test_a_merged_loosening_is_refused_then_forced_by_a_reviewed_dispatch(
    desk: Desk, tmp_path: Path
) -> None:
    """Apply on merge refuses what the guardrails refuse; the one way on is a dispatch with
    `force`, which the plan job tells the reviewers of mmp-production about before they
    approve the apply job, and which is journaled with who dispatched it."""
    desk.policies = tmp_path / "loose"
    shutil.copytree(REPO / "policies", desk.policies)
    policy = desk.policies / "desk-alpha.yaml"
    # deribit-hedge's btc_usd (deribit-main's writes are held for its frozen group)
    policy.write_text(policy.read_text().replace("quantity_limit: 12.5\n", "quantity_limit: 500\n"))
    desk.actor = "risk-lead"
    plan, apply = _merge(desk)
    assert "**Guardrails**: apply will refuse without `--force`" in plan.summary
    assert "quantity_limit raised 12.5 -> 500" in plan.summary
    assert "Dispatched with force" not in plan.summary
    assert apply.code == 1
    assert "guardrail(s) tripped; nothing was applied" in apply.text

    forced = {"inputs.mode": "apply", "inputs.force": "true"}
    plan, apply = _merge(desk, "workflow_dispatch", forced)
    assert plan.summary.startswith("> [!WARNING]\n> **Dispatched with force by risk-lead**")
    assert apply.code == 0, apply.text
    assert "Exit 0" in apply.stdout
    journal = (apply.workspace / ".mmp" / "journal.jsonl").read_text()
    assert '"by":"github:risk-lead"' in journal and '"event":"force"' in journal
    _no_canary(desk)


def test_force_is_only_true_false_or_empty_and_never_on_a_push(desk: Desk) -> None:
    workspace = desk.checkout()
    refused = desk.run(APPLY_PLAN, workspace, "push", given={"inputs.force": "true"})
    assert refused.code == 1 and "a merge never forces" in refused.stderr
    unclear = desk.run(APPLY_PLAN, workspace, "workflow_dispatch", given={"inputs.force": "yes"})
    assert unclear.code == 1
    assert "MMP_FORCE=yes is neither true nor false" in unclear.stderr
    assert not (workspace / ".mmp" / "plan.json").exists()  # refused before any plan


def test_a_failed_shard_leaves_its_accounts_not_checked(desk: Desk) -> None:
    report, shards = _drift(desk, failing="bullish")
    failed = shards[VENUES.index("bullish")]
    assert failed.code == 1 and "not a sandbox state file" in failed.stderr
    assert not list((failed.workspace / ".mmp" / "drift").iterdir())
    assert report.code == 1
    assert "1 account(s) were not checked" in report.stderr and "bullish-mm" in report.stderr
    [issue] = desk.fake.issues_labelled("mmp-drift")
    assert issue.title.endswith("account(s) not checked)")
    assert "**Not checked**: 1 account(s)" in issue.body and "- `bullish-mm`" in issue.body
    assert "`deribit/deribit-hedge/eth_usd`" in issue.body  # the others still report


def test_shard_plans_are_named_after_the_shard() -> None:
    assert shard_name("venue=deribit") == "venue-deribit"
    assert shard_name("2/4") == "2-of-4"
    for wrong in ("", "deribit", "venue=../etc", "venue=a b", "2/4/8", "venue=é"):
        with pytest.raises(GitHubError, match=r"MMP_SHARD=.*venue=NAME or K/N"):
            shard_name(wrong)


def test_force_is_read_strictly_and_named_to_the_reviewers() -> None:
    assert not forced({}) and not forced({"MMP_FORCE": "false"})
    assert forced({"MMP_FORCE": "TRUE", "GITHUB_EVENT_NAME": "workflow_dispatch"})
    with pytest.raises(GitHubError, match="a merge never forces"):
        forced({"MMP_FORCE": "true", "GITHUB_EVENT_NAME": "push"})
    with pytest.raises(GitHubError, match=re.escape("MMP_FORCE='tr\\x1bue' is neither")):
        forced({"MMP_FORCE": "tr\x1bue"})  # a control character is shown escaped
    assert "by dependabot[bot]**" in force_warning("dependabot[bot]")
    assert "by a??b**" in force_warning("a**b")  # no Markdown from the actor's name
    assert "(GITHUB_ACTOR not set)" in force_warning("")


def test_apply_output_is_shown_as_is_in_the_summary() -> None:
    assert fenced("Exit 0\n") == "```\nExit 0\n```\n"
    assert fenced("a ```` b") == "`````\na ```` b\n`````\n"
    assert fenced("") == "```\n```\n"


def test_a_heal_that_cannot_read_earlier_journals_says_so_and_still_restores_protection(
    desk: Desk,
) -> None:
    """The artifact storage fails while the heal job gathers the journals of earlier runs:
    heal cannot know what the killed apply took away. It says so (its log, the job summary,
    heal.json, the drift issue) and still re-creates the bare scope with its declared config
    (the reviewed protection, as a person re-running apply would). The next run, which can
    read them, finds the killed apply's scope holding a config and journals it recovered."""
    assert _merge(desk)[1].code == 0
    desk.policies = desk.root / "tighter"
    shutil.copytree(REPO / "policies", desk.policies)
    policy = desk.policies / "desk-alpha.yaml"
    btc = "        quantity_limit: 8\n        delta_limit: 1\n"
    policy.write_text(policy.read_text().replace(btc, btc.replace(": 8", ": 6")))
    _killed_between_reset_and_set(desk, "bullish/bullish-mm/BTC")
    desk.fake.on_artifact = lambda _: httpx.Response(503, text="storage unavailable")

    heal = _heal(desk)
    assert heal.code == 4, heal.text  # deribit-main's Block RFQ btc_usd: bare, held
    said = "No journal of an earlier run was read. Not read: run "
    assert said in heal.stderr and said in heal.summary
    assert "its storage answered 503" in heal.summary
    assert "what those runs alone journaled is not known to this run" in heal.summary
    assert "interrupted" not in heal.stdout  # nothing known of the killed apply
    assert re.search(r"^  applied +bullish/bullish-mm/BTC$", heal.stdout, re.M)
    report = json.loads((heal.workspace / ".mmp" / "heal" / "heal.json").read_text())
    assert report["history"]["runs"] == [] and "503" in report["history"]["unknown"]
    assert _venues_now(desk)["bullish/bullish-mm/BTC"]["action"] == "unchanged"
    assert _drift(desk, healed=heal)[0].code == 0
    [issue] = desk.fake.issues_labelled("mmp-drift")
    assert "**Earlier runs unknown** ([the run](" in issue.body

    desk.fake.on_artifact = None
    again = _heal(desk)
    assert again.code == 4 and "Nothing to heal." in again.stdout, again.text
    assert "Journals of earlier runs read:" in again.stderr
    records = _records(again.workspace / ".mmp" / "heal" / "journal.jsonl")
    assert [r["event"] for r in records if r["event"] == "recovered"] == ["recovered"]
    _no_canary(desk)
