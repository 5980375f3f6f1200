"""`mmp heal` where it could write what nobody reviewed, over what it did not see, past a
guardrail, or end saying less than the truth: each as a real `mmp` process against strict
simulators on loopback (tests/procs.py).

- uncommitted guardrails beside a policy file (`--policies FILE`) are refused as an
  uncommitted policies folder is: an unreviewed edit cannot turn healing on;
- a create is sent only after a fresh read of its scope confirms it has no config (the
  plan's read answering nothing once is no proof); an account reading wholly empty where
  the journal says configs were verified is said loudly;
- where an unfinished run took a config away and the reviewed one is beyond a guardrail
  from it, heal puts the config it took away back, and leaves the reviewed one to a person;
- one exit line, the journal's apply-end saying the same code as the process: 4 while a
  declared scope is left without MMP, whatever the steps came to;
- an unwritable --report is refused before anything is read.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.commands.heal import _save
from reconciler.core.model import ScopeKey
from reconciler.planning.heal import Healing
from reconciler.planning.plan import Plan
from reconciler.venues.deribit.simulator import DeribitSimulator
from tests.procs import LiveDesk
from tests.test_heal_interrupt import killed_between_reset_and_set
from tests.test_interrupt import BTC, ETH, OLD, WANT, make_desk
from tests.venues import ROWS

D1 = ScopeKey("deribit", "dm", "btc_usd")
D2 = ScopeKey("deribit", "dm", "eth_usd")
WANT_D = ROWS["deribit"].sample(1)  # quantity_limit 0.2
HEALING = "heal:\n  enabled: true\n"


def _guardrails(desk: LiveDesk, text: str, message: str = "guardrails") -> None:
    (desk.repo / "policies" / "guardrails.yaml").write_text(text, encoding="utf-8")
    desk.commit(message)


def _sets(desk: LiveDesk) -> int:
    return len(desk.seen("deribit", lambda r: b"set_mmp_config" in r.content))


def _events(desk: LiveDesk, event: str, run: str | None = None) -> list[dict[str, Any]]:
    records = desk.journal().records
    return [r for r in records if r["event"] == event and run in (None, r["run"])]


# ---- H1: every file heal reads is committed --------------------------------------------


def test_an_uncommitted_guardrails_edit_beside_a_policy_file_cannot_enable_healing(
    tmp_path: Path,
) -> None:
    with LiveDesk(tmp_path, {D1: (WANT_D, None)}) as desk:
        _guardrails(desk, "loosening:\n  limit_ratio: 1.5\n# heal:\n#   enabled: true\n")
        guardrails = desk.repo / "policies" / "guardrails.yaml"
        with guardrails.open("a", encoding="utf-8") as handle:
            handle.write(HEALING)  # not reviewed, not committed
        for policies in ((), ("--policies", "policies/desk.yaml")):
            refused = desk.mmp("heal", *policies)
            assert refused.code == 1, refused
            assert (
                "have uncommitted changes (policies/guardrails.yaml): nothing was read or sent"
                in (refused.stderr)
            )
            assert desk.seen("deribit") == []  # nothing read, nothing sent
        assert desk.live(D1) is None
        desk.commit("heal on, reviewed")
        healed = desk.mmp("heal", "--policies", "policies/desk.yaml")
        assert healed.code == 0, healed
        assert desk.live(D1) == WANT_D
        [record] = _events(desk, "heal")
        assert record["dirty"] is False and record["scope"] == str(D1)


def test_heal_refuses_when_git_cannot_say_whether_the_policies_are_committed(
    tmp_path: Path,
) -> None:
    """Red team 3: a broken index made `git status` fail, which read as "no changes": an
    uncommitted edit enabling healing then healed. The check fails closed now."""
    with LiveDesk(tmp_path, {D1: (WANT_D, None)}) as desk:
        _guardrails(desk, "loosening:\n  limit_ratio: 1.5\n" + HEALING)
        (desk.repo / ".git" / "index").write_bytes(b"not an index")
        refused = desk.mmp("heal")
        assert refused.code == 1, refused
        assert "`git status` failed, so uncommitted changes cannot be ruled out" in refused.stderr
        assert desk.seen("deribit") == [] and desk.live(D1) is None


# ---- H2: a create only after a fresh read confirms no config ---------------------------


class Glitchy(DeribitSimulator):
    """Answers the next `glitches` reads of the orders space's MMP configs with nothing."""

    glitches = 0

    def _dispatch(self, request: httpx.Request, method: str, params: dict[str, Any]) -> Any:
        if method == "private/get_mmp_config" and not params.get("block_rfq") and self.glitches:
            self.glitches -= 1
            return []
        return super()._dispatch(request, method, params)


@pytest.mark.parametrize("now", ["stricter", "looser"])
def test_an_empty_read_once_never_makes_heal_create_over_a_config(tmp_path: Path, now: str) -> None:
    """The venue holds a config; the plan's read answers nothing once. Heal reads the scope
    again before its create, finds the config, and judges again on it: a person's stricter
    emergency config is left (loosening), a looser one tightened (an update). Either way it
    is said, journaled, and the account that read empty after verified writes is named."""
    sim = Glitchy()
    loose = WANT_D.with_changes(quantity_limit=Decimal("0.4"))
    emergency = WANT_D.with_changes(quantity_limit=Decimal("0.02"))
    with LiveDesk(tmp_path, {D1: (WANT_D, loose)}, sims={"deribit": sim}) as desk:
        _guardrails(desk, HEALING)
        applied = desk.mmp("apply", "--auto-approve")  # the journal: verified on dm
        assert applied.code == 0 and desk.live(D1) == WANT_D, applied
        desk.seed(D1, emergency if now == "stricter" else loose)
        sets = _sets(desk)
        sim.glitches = 1
        healed = desk.mmp("heal")
        assert healed.code == 0, healed
        assert sim.glitches == 0  # the plan's read got nothing
        reread = "the plan's read showed no config, but a read made again before its create"
        assert reread in healed.stdout
        assert "read again before heal created them, deribit/dm/btc_usd hold a config" in (
            healed.stderr
        )
        assert "WARNING: deribit/dm reads with no MMP config at all, though run" in healed.stderr
        [empty] = _events(desk, "empty-account")
        assert empty["account"] == "dm" and empty["scope"] == str(D1)
        [record] = _events(desk, "heal-reread")
        assert record["scope"] == str(D1) and record["planned"] is None and record["now"]
        if now == "stricter":
            assert desk.live(D1) == emergency  # never loosened by a create
            assert _sets(desk) == sets and _events(desk, "heal") == []
            assert "  loosening  deribit/dm/btc_usd: " + reread in healed.stdout
            assert "Nothing to heal." in healed.stdout
        else:
            assert desk.live(D1) == WANT_D  # tightened, as an update from what is live
            [heal] = _events(desk, "heal")
            assert heal["action"] == "update" and heal["reason"].startswith(reread)
            [begin] = _events(desk, "step-begin", heal["run"])
            assert begin["before"] is not None  # written knowing the config it replaces


class Blinking(DeribitSimulator):
    """Answers every read of the orders space's MMP configs with nothing for `blink_s`
    seconds from the first read once armed: a venue's passing glitch, not one answer."""

    blink_s = 0.0
    until = 0.0

    def _dispatch(self, request: httpx.Request, method: str, params: dict[str, Any]) -> Any:
        if method == "private/get_mmp_config" and not params.get("block_rfq") and self.blink_s:
            if not self.until:
                self.until = time.monotonic() + self.blink_s
            if time.monotonic() < self.until:
                return []
        return super()._dispatch(request, method, params)


def test_a_glitch_that_answers_every_read_for_half_a_second_cannot_make_heal_create(
    tmp_path: Path,
) -> None:
    """Red team 3: two empty reads milliseconds apart (the plan's and the confirming one)
    overwrote a person's stricter config. The confirming read comes a second after the
    plan's began, past a glitch of half a second: the config is seen and left."""
    sim = Blinking()
    emergency = WANT_D.with_changes(quantity_limit=Decimal("0.02"))
    with LiveDesk(tmp_path, {D1: (WANT_D, emergency)}, sims={"deribit": sim}) as desk:
        _guardrails(desk, HEALING)
        sim.blink_s = 0.5
        healed = desk.mmp("heal")
        assert healed.code == 0, healed
        assert sim.until, "the glitch never answered"
        assert desk.live(D1) == emergency and _sets(desk) == 0
        assert "the plan's read showed no config, but a read made again before its create" in (
            healed.stdout
        )


def test_a_confirmed_create_is_written_and_an_unreadable_one_left(tmp_path: Path) -> None:
    """No config on the fresh read either: created. A fresh read that fails: nothing sent
    to that scope, said, exit 4 (it is still without MMP)."""
    with LiveDesk(tmp_path, {D1: (WANT_D, None)}) as desk:
        _guardrails(desk, HEALING)
        confirm = desk.gate("deribit", _orders_config_read, nth=2)  # the fresh read
        proc = desk.spawn("heal")
        assert confirm.wait_arrived(20, proc), proc.stderr_text()
        assert _sets(desk) == 0  # nothing sent before the fresh read answers
        confirm.release()
        healed = proc.finish(30)
        assert healed.code == 0, healed
        assert desk.live(D1) == WANT_D
    with LiveDesk(tmp_path / "2", {D1: (WANT_D, None)}) as desk:
        _guardrails(desk, HEALING)
        sim = desk.sims["deribit"]
        calls = {"n": 0}

        def fail_second(method: str, params: dict[str, Any]) -> None:
            if method == "private/get_mmp_config" and not params.get("block_rfq"):
                calls["n"] += 1
                if calls["n"] == 2:
                    raise _unavailable()

        sim.before_request = fail_second
        left = desk.mmp("heal")
        assert left.code == 4, left
        assert desk.live(D1) is None and _sets(desk) == 0
        assert "  unconfirmed  deribit/dm/btc_usd: to create, but it could not be read again" in (
            left.stdout
        )
        assert "Exit 4: 1 declared scope(s) left without MMP" in left.stdout


def _orders_config_read(request: httpx.Request) -> bool:
    return b"get_mmp_config" in request.content and b"block_rfq" not in request.content


def _unavailable() -> Exception:
    from reconciler.venues.deribit.simulator import RpcError

    return RpcError(11029, "invalid_arguments", {"reason": "injected"})


# ---- H3: heal never crosses a guardrail ------------------------------------------------


def test_beyond_a_guardrail_heal_puts_back_what_the_unfinished_run_took_away(
    tmp_path: Path,
) -> None:
    """An unforced tightening apply is killed between BTC's reset and its set (BTC had
    0.5); a reviewed merge then loosens BTC to 2, beyond `limit_ratio: 1.5` from 0.5 (apply
    refuses it without --force). Heal puts 0.5 back, says why, leaves 2 to a person; the
    next heal leaves BTC (configured now, its freeze state unknown over REST)."""
    with make_desk(tmp_path) as desk:
        _guardrails(desk, "loosening:\n  limit_ratio: 1.5\n" + HEALING)
        killed = killed_between_reset_and_set(desk)
        reviewed = WANT[BTC].with_changes(quantity_limit=Decimal("2"))
        desk.declare({BTC: reviewed}, "loosen BTC to 2 (reviewed; apply needs --force)")
        planned = desk.mmp("plan")
        assert "Guardrails: apply will refuse without --force:\n  bullish/bx/BTC: " in (
            planned.stdout
        ), planned

        healed = desk.mmp("heal", "--report", "heal.json")
        assert healed.code == 0, healed
        assert desk.live(BTC) == OLD[BTC] and desk.live(ETH) == OLD[ETH]
        out = healed.stdout
        assert (
            "Heal (the protection the policies declare, or, where that is beyond a guardrail "
            "from the config an unfinished run took away, the stricter of the two, field by "
            "field; nothing loosened or removed):" in out
        )
        took = (
            "created with, field by field, the stricter of the reviewed config and the one "
            f"apply run {killed} took away (quantity_limit as it had them): the reviewed "
            f"config is beyond guardrail(s) from what apply run {killed} took away"
        )
        assert took in out
        assert "quantity_limit raised 0.5 -> 2" in out and "`mmp apply --force`" in out
        assert "  guardrail  bullish/bx/BTC: the reviewed config is beyond guardrail(s)" in out
        assert out.count("Exit ") == 1 and "Heal finished: 1 applied. Exit 0" in out
        [heal] = _events(desk, "heal")
        assert heal["scope"] == str(BTC) and took in heal["reason"]
        [begin] = [r for r in _events(desk, "step-begin", heal["run"])]
        assert Decimal(str(begin["after"]["quantity_limit"])) == Decimal("0.5")
        report = json.loads((desk.repo / "heal.json").read_text())
        assert [(i["scope"], i["why"]) for i in report["left"]][:1] == [(str(BTC), "guardrail")]
        assert [(h["scope"], h["outcome"]) for h in report["healed"]] == [(str(BTC), "applied")]

        again = desk.mmp("heal")
        assert again.code == 0, again
        assert desk.live(BTC) == OLD[BTC]  # never loosened to 2 by heal
        assert "  held  bullish/bx/BTC: freeze state unknown" in again.stdout  # configured


# ---- M3: one exit line; the journal says the process's code ----------------------------


def _rfq_config(request: httpx.Request) -> bool:
    return b"get_mmp_config" in request.content and b"block_rfq" in request.content


@pytest.mark.parametrize("meanwhile", ["nothing", "moved", "frozen"])
def test_a_declared_scope_left_without_mmp_makes_the_exit_4_whatever_the_steps_did(
    tmp_path: Path, meanwhile: str
) -> None:
    """D2 is declared above a ceiling (left: guardrail) and has no config; D1 is tightened.
    Whether D1's step is applied, or finds its scope moved or frozen (apply's 0 or 3), heal
    exits 4 on one exit line, and its apply-end and report say 4."""
    big = WANT_D.with_changes(quantity_limit=Decimal("50"))
    loose = WANT_D.with_changes(quantity_limit=Decimal("0.4"))
    other = WANT_D.with_changes(quantity_limit=Decimal("0.05"))
    with LiveDesk(tmp_path, {D1: (WANT_D, loose), D2: (big, None)}) as desk:
        ceiling = "venues:\n  deribit:\n    quantity_limit:\n      max: 10\n"
        _guardrails(desk, ceiling + HEALING)
        gate = desk.gate("deribit", _rfq_config, before=False)  # the plan's read, last part
        proc = desk.spawn("heal", "--report", "heal.json")
        assert gate.wait_arrived(20, proc), proc.stderr_text()
        if meanwhile == "moved":
            desk.seed(D1, other)  # a person tightens further on the venue meanwhile
        elif meanwhile == "frozen":
            desk.trigger(D1)
        time.sleep(0.3)  # older than a read the check before a write may reuse
        gate.release()
        healed = proc.finish(30)
        assert healed.code == 4, healed
        ended = {"nothing": "1 applied", "moved": "1 moved", "frozen": "1 held"}[meanwhile]
        assert healed.stdout.count("Exit ") == 1
        assert healed.stdout.rstrip().endswith(
            f"Heal finished: {ended}. Exit 4: 1 scope(s) may be without MMP after "
            f"heal: {D2} (why: above). A person must act."
        )
        assert f"  guardrail  {D2}: quantity_limit 50 is above the ceiling 10" in healed.stdout
        [end] = _events(desk, "apply-end")
        assert end["exit_code"] == 4
        assert json.loads((desk.repo / "heal.json").read_text())["exit_code"] == 4
        assert desk.live(D2) is None


# ---- M4: the report --------------------------------------------------------------------


def test_an_unwritable_report_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    with LiveDesk(tmp_path, {D1: (WANT_D, None)}) as desk:
        _guardrails(desk, HEALING)
        (desk.repo / "afile").write_text("not a folder\n", encoding="utf-8")
        (desk.repo / "afolder").mkdir()
        for report in ("afile/heal.json", "afolder"):
            refused = desk.mmp("heal", "--report", report)
            assert refused.code == 1, refused
            assert f"the report {report} cannot be written (" in refused.stderr
            assert "nothing was read or sent" in refused.stderr
            assert "a bug in mmp" not in refused.stderr
        assert desk.seen("deribit") == [] and desk.live(D1) is None
        assert not (desk.repo / ".mmp" / "journal.jsonl").exists()


def test_a_report_never_replaces_a_file_heal_reads(tmp_path: Path) -> None:
    """Red team 3: --report naming guardrails.yaml (or a link to a policy) overwrote it."""
    with LiveDesk(tmp_path, {D1: (WANT_D, None)}) as desk:
        _guardrails(desk, HEALING)
        guardrails = desk.repo / "policies" / "guardrails.yaml"
        before = guardrails.read_text(encoding="utf-8")
        (desk.repo / "link.json").symlink_to(guardrails)
        for report in ("policies/guardrails.yaml", "link.json", "policies/new.json"):
            refused = desk.mmp("heal", "--report", report)
            assert refused.code == 1, refused
            assert "is in the policies folder" in refused.stderr, refused.stderr
        assert guardrails.read_text(encoding="utf-8") == before
        assert desk.seen("deribit") == [] and desk.live(D1) is None


def test_a_report_that_cannot_be_written_after_the_writes_is_said_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    healing = Healing(Plan(steps=(), fingerprint="sha256:0"), (), ())
    _save(tmp_path / "afile" / "heal.json", healing, None, 0)  # never raises
    err = capsys.readouterr().err
    assert "could not be written" in err and "heal ended with exit 0" in err
