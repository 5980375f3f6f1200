"""The workflows' own steps, run as GitHub would run them, against the sandbox venues and a
fake GitHub API on loopback: a typo in a workflow's `run:` fails this suite.

One desk's life: a pull request is planned (one sticky comment, edited on the next push),
the drift check opens an issue, the merge applies the approved plan (journal kept), the next
drift check closes the issue, a later pull request with nothing to change says so in one
line, a broken policy replaces the plan comment with the failure, and a fork gets nothing.
Every secret holds a canary value that must never appear in any output.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.render.markdown import MARKER
from reconciler.sim.github import FakeGitHub
from reconciler.sim.server import serve
from tests.workflow_runner import REPO, JobResult, Runner, load

REPOSITORY = "desk/mmp-policies"
TOKEN = "ghs_workflowtoken0001"
CANARY = "CANARY-8f3e2d1c"
PR = 7
VENUES = ["deribit", "binance", "aevo", "bullish"]


def _secrets() -> dict[str, str]:
    names = set()
    for workflow in ("mmp-plan.yml", "mmp-apply.yml", "mmp-drift.yml"):
        for job in load(workflow)["jobs"].values():
            names |= {k for k, v in (job.get("env") or {}).items() if "secrets." in str(v)}
    return {name: f"{CANARY}-{name}" for name in names}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Runner, FakeGitHub]]:
    fake = FakeGitHub(REPOSITORY, tokens={TOKEN: "write"})
    fake.add_pull_request(PR)
    with serve(fake) as api_url:
        runner = Runner(
            root=tmp_path,
            github={
                "GITHUB_API_URL": api_url,
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": REPOSITORY,
            },
            secrets=_secrets(),
            token=TOKEN,
        )
        yield runner, fake


def _pr_event(head_repo: str = REPOSITORY) -> dict[str, object]:
    return {
        "number": PR,
        "pull_request": {"number": PR, "head": {"repo": {"full_name": head_repo}}},
    }


def _plan_pr(runner: Runner, head_repo: str = REPOSITORY) -> JobResult:
    runner.new_run()
    return runner.run_job("mmp-plan.yml", "plan", "pull_request", _pr_event(head_repo))


def _drift(runner: Runner) -> JobResult:
    runner.new_run()
    shards = {
        venue: runner.run_job("mmp-drift.yml", "plan", "schedule", {}, matrix={"venue": venue})
        for venue in VENUES
    }
    for venue, shard in shards.items():
        assert shard.ok, (venue, shard.output_text)
    return runner.run_job(
        "mmp-drift.yml", "report", "schedule", {}, needs={"plan": shards["deribit"]}
    )


def _apply_on_push(runner: Runner) -> tuple[JobResult, JobResult]:
    runner.new_run()
    event = {"ref": "refs/heads/main"}
    plan = runner.run_job("mmp-apply.yml", "plan", "push", event)
    apply = runner.run_job("mmp-apply.yml", "apply", "push", event, needs={"plan": plan})
    return plan, apply


def _plan_comments(fake: FakeGitHub) -> list[str]:
    return [c.body for c in fake.comments_on(PR) if c.body.startswith(MARKER)]


def _no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text


def test_a_desk_through_the_workflows(desk: tuple[Runner, FakeGitHub]) -> None:
    runner, fake = desk
    for n in range(3):  # other people's comments, so the marker is looked for across pages
        fake.add_comment(PR, f"looks good {n}")

    # 1. The pull request is planned: one comment, the same Markdown in the job summary.
    first = _plan_pr(runner)
    assert first.ok, first.output_text
    [body] = _plan_comments(fake)
    assert body.startswith(
        f"{MARKER}\n### MMP plan (sandbox: simulators, not venues): 2 to create, 5 to update"
    )
    assert "- **Replacement gap**: 2 scope(s)" in body
    assert "- **Held**: 4 scope(s)" in body
    assert "<details><summary>Field details</summary>" in body
    assert first.step("Comment the plan").summary == body
    assert first.step("Comment that the plan failed (no stale plan stays up)").outcome == "skipped"
    assert set(runner.artifacts) == {"mmp-plan"}

    # 2. Another push: the same comment is found by its marker and kept, never a second one.
    again = _plan_pr(runner)
    assert again.ok, again.output_text
    assert len(_plan_comments(fake)) == 1
    assert not [r for r in fake.requests if r[0] == "POST" and r[1].endswith("/comments")][1:]

    # 3. The drift check (four venue shards, one report) opens one issue naming the scopes.
    report = _drift(runner)
    assert report.ok, report.output_text
    [issue] = fake.issues_labelled("mmp-drift")
    assert issue.title == (
        "MMP drift: 13 scope(s) differ from the policies (2 unprotected, 4 held pending)"
    )
    assert "`bullish/bullish-mm/BTC`" in issue.body
    assert _drift(runner).ok
    assert [i.number for i in fake.issues_labelled("mmp-drift", "all")] == [issue.number]

    # 4. Merge: the plan job saves the plan for the reviewers, the apply job applies it.
    plan, apply = _apply_on_push(runner)
    assert plan.ok and plan.outputs == {"changes": "true"}, plan.output_text
    assert (
        "### MMP plan (sandbox: simulators, not venues): 2 to create"
        in plan.step("Show the plan to the reviewers (job summary)").summary
    )
    assert apply.ok, apply.output_text
    applied = apply.step("Apply the approved plan")
    assert "Apply finished: 9 applied. Exit 0" in applied.stdout
    assert "Apply finished: 9 applied" in applied.summary
    journal = (runner.artifacts["mmp-journal"] / "journal.jsonl").read_text()
    assert journal.count('"outcome":"applied"') == 9

    # 5. Nothing left to apply: the next merge skips the apply job.
    plan, apply = _apply_on_push(runner)
    assert plan.ok and plan.outputs == {"changes": "false"}
    assert apply.skipped

    # 6. The next drift check finds nothing to apply, but the frozen scopes still differ
    # from the policies: the issue stays open, updated, listing them as pending until they
    # converge (tests/test_github.py shows it closing once nothing differs).
    assert _drift(runner).ok
    [still] = fake.issues_labelled("mmp-drift")
    assert still.number == issue.number
    assert still.title == "MMP drift: 4 scope(s) differ from the policies (4 held pending)"
    assert "pending: held (frozen), will be applied once unfrozen" in still.body

    # 7. A pull request now has nothing to change: the comment says so in one line.
    assert _plan_pr(runner).ok
    [body] = _plan_comments(fake)
    assert body.strip().count("\n") == 0
    assert body.startswith(f"{MARKER}**MMP plan (sandbox: simulators, not venues): no changes**")

    every_output = [first.output_text, again.output_text, report.output_text, body]
    every_output += [c.body for c in fake.comments.values()]
    every_output += [i.body for i in fake.issues.values()]
    every_output += [p.read_text(errors="replace") for p in runner.root.rglob("*") if p.is_file()]
    _no_canary(*every_output)


def test_a_broken_policy_replaces_the_plan_comment(desk: tuple[Runner, FakeGitHub]) -> None:
    runner, fake = desk
    assert _plan_pr(runner).ok
    broken = runner.root / "broken-policies"
    shutil.copytree(REPO / "policies", broken)
    policy = broken / "desk-alpha.yaml"
    policy.write_text(policy.read_text().replace("quantity_limit: 50", "quantity_limit: fifty"))
    runner.policies = broken
    failed = _plan_pr(runner)
    assert not failed.ok
    assert failed.step("Comment the plan").outcome == "skipped"
    assert failed.step("Comment that the plan failed (no stale plan stays up)").outcome == "success"
    [body] = _plan_comments(fake)
    assert "### MMP plan failed" in body
    assert "desk-alpha.yaml:" in body and "fifty" in body


def test_a_fork_pull_request_gets_nothing(desk: tuple[Runner, FakeGitHub]) -> None:
    runner, fake = desk
    result = _plan_pr(runner, head_repo="stranger/mmp-policies")
    assert result.skipped
    assert fake.requests == []


def test_a_dispatch_in_plan_mode_does_not_apply(desk: tuple[Runner, FakeGitHub]) -> None:
    runner, _ = desk
    runner.new_run()
    inputs = {"mode": "plan", "account": "deribit-main"}
    plan = runner.run_job("mmp-apply.yml", "plan", "workflow_dispatch", {}, inputs=inputs)
    assert plan.ok and plan.outputs == {"changes": "true"}, plan.output_text
    assert "filtered run" in plan.step("Plan").stdout
    apply = runner.run_job(
        "mmp-apply.yml", "apply", "workflow_dispatch", {}, inputs=inputs, needs={"plan": plan}
    )
    assert apply.skipped
    inputs["mode"] = "apply"
    apply = runner.run_job(
        "mmp-apply.yml", "apply", "workflow_dispatch", {}, inputs=inputs, needs={"plan": plan}
    )
    assert apply.ok, apply.output_text
    assert "Apply finished: 2 applied" in apply.step("Apply the approved plan").stdout


def test_a_merged_loosening_is_refused_then_forced_by_a_reviewed_dispatch(
    desk: tuple[Runner, FakeGitHub], tmp_path: Path
) -> None:
    """Apply on merge refuses what the guardrails refuse; the one way on is a dispatch with
    `force`, which the plan job tells the reviewers of mmp-production about before they
    approve the apply job, and which is journaled with who dispatched it."""
    runner, _ = desk
    loose = tmp_path / "loose-policies"
    shutil.copytree(REPO / "policies", loose)
    policy = loose / "desk-alpha.yaml"
    policy.write_text(policy.read_text().replace("quantity_limit: 50\n", "quantity_limit: 500\n"))
    runner.policies = loose
    runner.github["GITHUB_ACTOR"] = "risk-lead"
    plan, apply = _apply_on_push(runner)
    shown = plan.step("Show the plan to the reviewers (job summary)").summary
    assert "**Guardrails**: apply will refuse without `--force`" in shown
    assert "quantity_limit raised 60 -> 500" in shown and "Dispatched with force" not in shown
    assert not apply.ok
    assert "guardrail(s) tripped; nothing was applied" in apply.output_text

    runner.new_run()
    inputs = {"mode": "apply", "account": "", "force": "true"}
    plan = runner.run_job("mmp-apply.yml", "plan", "workflow_dispatch", {}, inputs=inputs)
    assert plan.ok, plan.output_text
    shown = plan.step("Show the plan to the reviewers (job summary)").summary
    assert "**Dispatched with force by risk-lead**" in shown
    apply = runner.run_job(
        "mmp-apply.yml", "apply", "workflow_dispatch", {}, inputs=inputs, needs={"plan": plan}
    )
    assert apply.ok, apply.output_text
    assert "Exit 0" in apply.step("Apply the approved plan").stdout
    journal = (runner.artifacts["mmp-journal"] / "journal.jsonl").read_text()
    assert '"by":"github:risk-lead"' in journal and '"event":"force"' in journal
