"""Remote content is in the content store before its message reaches IO, and a test send
never points at a citizen's record.

* After a run, every message IO stored with a third-party id has its content in the store,
  registered for that citizen alone.
* ``kill -9`` at several moments of a run: every message IO holds has its content (the row is
  pending, sent or ambiguous, never a message without content); a rerun finishes the job.
* A test send of a remote-content row gets a fresh id whose content is registered for the
  tester; the citizen's id is nowhere in the tester's message.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from enginetools import (
    GENERATE,
    cli_env,
    fast_config,
    ledger_states,
    run_cli,
    start_cli,
    wait_for_decided,
)

from dispatcher.content.store import ContentStore
from dispatcher.simulator import running_simulator
from dispatcher.simulator.faults import FaultConfig

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data"
def _campaign(folder: Path, rows: int) -> tuple[Path, Path]:
    """A remote-content campaign of ``rows`` citizens, each with the sample PDF/A."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE / "avviso_tari.pdf", folder / "avviso_tari.pdf")
    template = folder / "referto.toml"
    shutil.copy(SAMPLE / "referto_remoto.toml", template)
    lines = ["codice_fiscale;nome;cognome;indirizzo;id_contenuto_remoto;allegati_file"]
    for i, row in enumerate(GENERATE.tari_rows(rows, 5), start=1):
        lines.append(f"{row[0]};Nome{i};Cognome{i};Via Roma {i};"
                     f"PRATICA-{i:05d};avviso_tari.pdf")
    campaign = folder / "referto.csv"
    campaign.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return campaign, template


def _third_party(message: dict) -> str | None:
    return message.get("third_party_id")


def _assert_every_message_has_content(store_path: Path, inbox: dict[str, list[dict]]) -> int:
    checked = 0
    with ContentStore.open(store_path) as store:
        for fiscal_code, messages in inbox.items():
            for message in messages:
                remote = _third_party(message)
                if remote is None:
                    continue
                stored = store.lookup(remote, fiscal_code)
                assert stored is not None, f"IO holds {remote} but the store has not"
                assert stored.content.attachments, remote
                checked += 1
    return checked


def test_a_run_registers_every_message_before_io_has_it(tmp_path: Path) -> None:
    campaign, template = _campaign(tmp_path / "in", 30)
    store = tmp_path / "content.sqlite"
    ledger = tmp_path / "ledger.sqlite"
    with running_simulator(fast_config()) as sim:
        done = run_cli(["run", str(campaign), "-t", str(template), "--ledger", str(ledger),
                        "--content-store", str(store), "--yes", "--json"],
                       cli_env(sim, XDG_STATE_HOME=str(tmp_path / "state")))
        inbox = sim.inbox()
    assert done.returncode in (0, 3), done.stderr
    assert ledger_states(ledger).get("sent", 0) > 0
    assert _assert_every_message_has_content(store, inbox) == ledger_states(ledger)["sent"]
    with ContentStore.open(store) as opened:
        # a citizen's content answers that citizen only
        some_code = next(iter(inbox))
        some_id = _third_party(inbox[some_code][0])
        other = next(code for code in inbox if code != some_code)
        assert some_id is not None and opened.lookup(some_id, other) is None


def test_kill_9_never_leaves_a_message_without_its_content(tmp_path: Path) -> None:
    campaign, template = _campaign(tmp_path / "in", 400)
    store = tmp_path / "content.sqlite"
    ledger = tmp_path / "run" / "ledger.sqlite"
    args = ["run", str(campaign), "-t", str(template), "--ledger", str(ledger),
            "--content-store", str(store), "--rate", "300/s", "--yes"]
    faults = FaultConfig(latency_ms=5, jitter_ms=5, endpoints=frozenset({"messages",
                                                                         "profiles"}))
    with running_simulator(fast_config(faults=faults)) as sim:
        env = cli_env(sim, XDG_STATE_HOME=str(tmp_path / "state"))
        for point in (0, 60, 200):
            process = start_cli(args, env, tmp_path / "run.log")
            wait_for_decided(ledger, point, process)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            if store.exists():
                _assert_every_message_has_content(store, sim.inbox())
        final = run_cli([*args, "--resend-ambiguous"], env, timeout=180)
        inbox = sim.inbox()
    assert final.returncode in (0, 3), final.stderr[-2000:]
    states = ledger_states(ledger)
    assert states.get("pending", 0) == 0 and states.get("sending", 0) == 0, states
    assert _assert_every_message_has_content(store, inbox) >= states.get("sent", 0)


def test_a_test_send_never_carries_the_citizens_id(tmp_path: Path) -> None:
    campaign, template = _campaign(tmp_path / "in", 3)
    store = tmp_path / "content.sqlite"
    tester = "AAAAAA00A00A000A"
    with running_simulator(fast_config()) as sim:
        done = run_cli(["test", str(campaign), "-t", str(template), "--to", tester,
                        "--rows", "2", "--ledger", str(tmp_path / "ledger.sqlite"),
                        "--content-store", str(store)],
                       cli_env(sim, XDG_STATE_HOME=str(tmp_path / "state")))
        inbox = sim.inbox()
    assert done.returncode == 0, done.stderr
    (message,) = inbox[tester]
    own_id = _third_party(message)
    assert own_id is not None and "PRATICA" not in own_id
    with ContentStore.open(store) as opened:
        served = opened.lookup(own_id, tester)
        assert served is not None and served.content.attachments
        # the citizen's own record was never registered by a test
        assert opened.count() == 1
