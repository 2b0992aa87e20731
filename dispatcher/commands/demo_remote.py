"""The demo's remote-content part: the ente's side of IO, end to end, on a laptop.

What an ente does for a remote-content campaign, in the same order, against the simulator:
start its content server (with its own key), point the service's remote-content
configuration at it (``rc-config update`` with the manage key), send the sample campaign
(its content and its PDF/A attachment registered in the content store before each submit),
let the simulated app open one message as IO's backend does (fetching the text, the
precondition and the PDF from the content server), and read the opens back in the report.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatcher.commands._output import console, err_console, tr

if TYPE_CHECKING:
    from dispatcher.settings import Settings
    from dispatcher.simulator import RunningSimulator

__all__ = ["REMOTE_FILES", "remote_content_demo"]

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
CAMPAIGN = SAMPLE_DIR / "referto_remoto.csv"
TEMPLATE = SAMPLE_DIR / "referto_remoto.toml"
REMOTE_FILES = ("content.key", "content.sqlite", "content.sqlite-wal", "content.sqlite-shm",
                "rc-config.toml")

RC_CONFIG = """\
# The remote-content configuration the demo gives the simulated IO: where its content
# server is and which key IO must send it. The key itself stays in content.key (0600).
name = "Demo: avvisi TARI con allegato"
description = "Contenuto remoto e allegati PDF/A serviti da dispatcher content serve"
has_precondition = "ONCE"
is_lollipop_enabled = false

[prod_environment]
base_url = "{base_url}"
header_key_name = "X-Functions-Key"
key_file = "content.key"
"""


def _private_text(path: Path, text: str) -> None:
    """Write ``text`` to a 0600 file (the content key, a file naming it)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def remote_content_demo(sim: RunningSimulator, settings: Settings, out: Path, *,
                        translate: Any, invocation_for: Any) -> int:
    """Run the remote-content part; the exit code of its ``run``."""
    from dataclasses import replace

    from dispatcher.campaign import CampaignOptions, CampaignSource
    from dispatcher.commands.progress import RunProgress
    from dispatcher.commands.run import execute_run
    from dispatcher.commands.simulator import print_opened
    from dispatcher.content.server import ServerOptions
    from dispatcher.content.serving import running_content_server
    from dispatcher.ledger import open_for_reading
    from dispatcher.operations.rc_config import load_configuration_file, update_configuration
    from dispatcher.operations.report import ReportRequest, make_report
    from dispatcher.operations.run import RunOptions
    from dispatcher.settings import Secret
    from dispatcher.simulator import DEFAULT_KEY, DEMO_CONFIGURATION_ID
    from dispatcher.storage import private_folder

    _ = translate
    folder = private_folder(out / "remote")
    for name in REMOTE_FILES:
        (out / name).unlink(missing_ok=True)
    for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "results.csv",
                 "results.parquet", "to_reach.csv", "report.html", "summary.json"):
        (folder / name).unlink(missing_ok=True)
    key = secrets.token_urlsafe(24)
    _private_text(out / "content.key", key + "\n")
    store = out / "content.sqlite"
    with running_content_server(ServerOptions(store_path=store, key=Secret(key))) as server:
        console.print(_("the ente's content server (dispatcher content serve) at {url}")
                      .format(url=server.url), markup=False)
        _private_text(out / "rc-config.toml", RC_CONFIG.format(base_url=server.url))
        remote = replace(settings, manage_key=Secret(DEFAULT_KEY), content_store=store)
        updated = update_configuration(remote, DEMO_CONFIGURATION_ID,
                                       load_configuration_file(out / "rc-config.toml"))
        if updated.exit_code != 0:
            err_console.print(_("the demo could not configure remote content: {reason}")
                              .format(reason=updated.message), markup=False)
            return int(updated.exit_code)
        console.print(_("configuration {id} now points at it (dispatcher rc-config update "
                        "{id} rc-config.toml)").format(id=DEMO_CONFIGURATION_ID), markup=False)
        ledger_path = folder / "ledger.sqlite"
        code = execute_run(
            CampaignSource(CAMPAIGN, TEMPLATE, CampaignOptions(language=tr().language)),
            settings=remote, ledger_path=ledger_path,
            options=RunOptions(export_dir=folder, content_store=store),
            json_output=False, progress=RunProgress.for_terminal(err_console),
            invocation=invocation_for(CAMPAIGN, TEMPLATE, ledger_path))
        with open_for_reading(ledger_path) as ledger:
            latest = ledger.campaigns.latest()
            assert latest is not None
            sent = [(row.row, row.message_id) for row in ledger.rows.all(latest.campaign_id)
                    if row.message_id]
        time.sleep(0.5)  # IO processes a message a moment after its 201
        # row 2 carries the PDF/A attachment; another row when the simulator gave it no IO
        sent.sort(key=lambda item: item[0] != 2)
        for number, message_id in sent[:1]:
            console.print(_("the citizen of row {row} opens the message in the app "
                            "(dispatcher simulator open {id}):")
                          .format(row=number, id=message_id), markup=False)
            status, answer = sim.open_message(message_id)
            if status == 200:
                print_opened(answer)
            else:
                err_console.print(_("IO would show an error: {detail}")
                                  .format(detail=answer), markup=False)
    report = make_report(ReportRequest(ledger_path, None, folder, content_store=store))
    opens = report.files.summary.opens
    if opens is not None:
        console.print(_("report: {opened} of {messages} remote-content messages opened "
                        "({page})").format(opened=opens.opened, messages=opens.messages,
                                           page=report.files.written.get("html")),
                      markup=False)
    return code

