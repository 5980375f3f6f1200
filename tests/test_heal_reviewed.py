"""`mmp heal` on a terminal heals only from a commit that is on the heal branch's upstream
(the remote branch reviews merge into), as the clone last fetched it: a local commit that
was never pushed is not reviewed, so heal refuses before reading anything. A branch with no
upstream heals, saying it cannot tell whether the commit was reviewed. Each case is a real
`mmp` process in a real Git clone of a bare remote (tests/procs.py), against a simulator on
loopback; nothing asks the remote anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.core.model import ScopeKey
from tests.procs import LiveDesk, Result, Spawned
from tests.test_heal import _git
from tests.venues import ROWS

D = ScopeKey("deribit", "dm", "btc_usd")  # declared, no config live: unprotected
WANT = ROWS["deribit"].sample(1)
NO_UPSTREAM = "has no upstream branch, so heal cannot tell whether commit"


def _desk(tmp_path: Path) -> LiveDesk:
    return LiveDesk(tmp_path, {D: (WANT, None)})


def _healing(desk: LiveDesk) -> None:
    (desk.repo / "policies" / "guardrails.yaml").write_text("heal:\n  enabled: true\n")
    desk.commit("heal on")


def _pushed(desk: LiveDesk) -> Path:
    """A bare remote holding the desk's main, which main then tracks (as in a clone)."""
    remote = desk.root / "remote.git"
    _git(desk.root, "init", "-q", "--bare", "-b", "main", str(remote))
    _git(desk.repo, "remote", "add", "origin", str(remote))
    _git(desk.repo, "push", "-q", "-u", "origin", "main")
    return remote


def _untouched(desk: LiveDesk, refused: Result, before: int) -> None:
    """Refused with exit 1, and nothing read, sent or journaled."""
    assert refused.code == 1, refused
    assert "nothing was read or sent" in refused.stderr
    assert len(desk.seen("deribit")) == before
    assert not (desk.repo / ".mmp" / "journal.jsonl").exists()
    assert desk.live(D) is None


def test_a_commit_not_on_the_upstream_is_refused_until_it_is_pushed(tmp_path: Path) -> None:
    with _desk(tmp_path) as desk:
        _healing(desk)
        _pushed(desk)
        desk.commit("a local edit, never pushed")
        desk.commit("and another")
        before = len(desk.seen("deribit"))
        refused = desk.mmp("heal", timeout=120)
        _untouched(desk, refused, before)
        assert (
            "HEAD has 2 commit(s) that are not on `origin/main`, the upstream of `main` (as "
            "this clone last fetched it): they are not reviewed until they are merged there"
            in refused.stderr
        )
        assert "Traceback" not in refused.stderr
        _git(desk.repo, "push", "-q")  # merged: reviewed now
        healed = desk.mmp("heal", timeout=120)
        assert healed.code == 0, healed
        assert desk.live(D) == WANT
        assert NO_UPSTREAM not in healed.stderr


def test_a_fresh_clone_heals_and_a_missing_upstream_ref_is_refused(tmp_path: Path) -> None:
    """A fresh clone tracks its remote and holds nothing else: it heals. A clone whose
    upstream is configured but not fetched cannot tell: refused, nothing read."""
    with _desk(tmp_path) as desk:
        _healing(desk)
        remote = _pushed(desk)
        clone = desk.root / "clone"
        _git(desk.root, "clone", "-q", str(remote), str(clone))
        logs = desk.root / "runs" / "clone"
        command = [sys.executable, "-m", "reconciler", "heal"]
        healed = Spawned(command, clone, desk.env, logs).finish(120)
        assert healed.code == 0, healed
        assert desk.live(D) == WANT
        assert NO_UPSTREAM not in healed.stderr
        _git(desk.repo, "update-ref", "-d", "refs/remotes/origin/main")
        before = len(desk.seen("deribit"))
        refused = desk.mmp("heal", timeout=120)
        assert refused.code == 1, refused
        assert "git could not tell whether commit" in refused.stderr
        assert "is on the upstream `origin/main` of `main`: nothing was read or sent" in (
            refused.stderr
        )
        assert len(desk.seen("deribit")) == before


def test_a_branch_with_no_upstream_heals_and_says_it_cannot_tell(tmp_path: Path) -> None:
    with _desk(tmp_path) as desk:
        _healing(desk)
        commit = _git(desk.repo, "rev-parse", "HEAD")
        healed = desk.mmp("heal", timeout=120)
        assert healed.code == 0, healed
        assert desk.live(D) == WANT
        assert (
            f"mmp: note: `main` has no upstream branch, so heal cannot tell whether commit "
            f"{commit[:12]} was reviewed: it heals from this checkout as it is"
        ) in healed.stderr


def test_main_is_judged_against_its_remote_branch_whatever_it_tracks(tmp_path: Path) -> None:
    """Red team: main pushed with `-u` to another branch (tracking origin/my-change), main
    tracking itself, or pushed without `-u` (tracking nothing): an unpushed commit is still
    judged against origin/main, where reviews merge, and refused."""
    with _desk(tmp_path) as desk:
        _healing(desk)
        _pushed(desk)
        desk.commit("a local edit, never merged into main")
        before = len(desk.seen("deribit"))
        setups = [
            ("push", "-q", "-u", "origin", "main:my-change"),  # a branch for a pull request
            ("config", "branch.main.remote", "."),  # main tracks itself
            ("branch", "--unset-upstream"),  # pushed once without -u
        ]
        for setup in setups:
            _git(desk.repo, *setup)
            refused = desk.mmp("heal", timeout=120)
            _untouched(desk, refused, before)
            assert "HEAD has 1 commit(s) that are not on `origin/main`" in refused.stderr, setup
            assert NO_UPSTREAM not in refused.stderr


def test_an_uncommitted_edit_behind_a_symbolic_link_is_an_uncommitted_change(
    tmp_path: Path,
) -> None:
    """Red team 2: policies/desk.yaml a committed link to shared/desk.yaml; an uncommitted
    edit there is an uncommitted change to the policies (refused, nothing read); a link to a
    file outside the repository is named (what it reads is in no commit)."""
    with _desk(tmp_path) as desk:
        _healing(desk)
        _pushed(desk)
        shared = desk.repo / "shared" / "desk.yaml"
        shared.parent.mkdir()
        desk.policy.rename(shared)
        desk.policy.symlink_to(Path("..") / "shared" / "desk.yaml")
        desk.commit("the policy lives in shared/")
        _git(desk.repo, "push", "-q")
        shared.write_text(shared.read_text() + "\n# an unreviewed edit\n")
        before = len(desk.seen("deribit"))
        refused = desk.mmp("heal", timeout=120)
        _untouched(desk, refused, before)
        assert "uncommitted changes (shared/desk.yaml)" in refused.stderr, refused.stderr
        elsewhere = tmp_path / "elsewhere.yaml"
        elsewhere.write_text(shared.read_text())
        desk.policy.unlink()
        desk.policy.symlink_to(elsewhere)
        desk.commit("the policy outside the repository")
        _git(desk.repo, "push", "-q")
        refused = desk.mmp("heal", timeout=120)
        _untouched(desk, refused, before)
        assert f"policies/desk.yaml (a link to {elsewhere}, outside the repository)" in (
            refused.stderr
        )
