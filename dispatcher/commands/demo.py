"""``dispatcher demo``: the whole job on a laptop, against the embedded IO simulator.

It starts the simulator on a free loopback port, validates the sample TARI campaign (which
has deliberate errors), sends its valid rows through the real pipeline at IO's real gateway
policy, asks IO what became of each message (``dispatcher status``), and writes the reports
(``dispatcher report``): results, the HTML page and the JSON summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    console,
    err_console,
    num,
    refused,
    tr,
    use_language,
)
from dispatcher.vocabulary import ExitCode

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"


def command(
    campaign_file: Path = typer.Option(
        SAMPLE_DIR / "tari_2027.csv", "--file", help="Campaign to send to the simulator."
    ),
    template: Path | None = typer.Option(
        SAMPLE_DIR / "tari_2027.toml", "--template", help="Template for the campaign."
    ),
    out: Path = typer.Option(Path("demo-run"), "--out", help="Folder for ledger and exports."),
    rate: str = typer.Option("120/5s", "--rate", help="Client budget (the simulator: 150/5s)."),
    seed: int = typer.Option(7, "--seed", help="Simulator population seed."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Run a sample campaign end to end against the embedded IO simulator (no network)."""
    use_language(lang)
    from dispatcher.campaign import CampaignFileError, CampaignOptions, CampaignSource
    from dispatcher.commands.demo_remote import remote_content_demo
    from dispatcher.commands.hints import Invocation, suggest
    from dispatcher.commands.progress import RunProgress
    from dispatcher.commands.run import execute_run
    from dispatcher.commands.status import render_status
    from dispatcher.commands.validate import render_validation
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.operations.report import ReportRequest, make_report
    from dispatcher.operations.run import RunOptions
    from dispatcher.operations.status import StatusOptions, check_statuses
    from dispatcher.settings import RateSpec, Secret, Settings
    from dispatcher.simulator import (
        DEFAULT_KEY,
        PopulationConfig,
        SimulatorConfig,
        running_simulator,
    )

    source = CampaignSource(campaign_file, template, CampaignOptions(language=tr().language))
    try:
        campaign = source.load()
    except CampaignFileError as exc:
        err_console.print(_("error:") + f" {exc}", markup=False)
        raise typer.Exit(int(ExitCode.INVALID_INPUT)) from None
    console.rule(_("1. validate"))
    render_validation(campaign, max_problems=10, preview=True)
    _clear_demo_files(out)  # a fresh simulator has an empty inbox: start a fresh ledger too
    config = SimulatorConfig(population=PopulationConfig(seed=seed))
    ledger_path = out / "ledger.sqlite"
    with running_simulator(config) as sim:
        console.rule(_("2. send to the IO simulator at {url} (policy 150/5s)").format(
            url=sim.base_url))
        # the simulator is a new service every time: its send journal lives with the demo
        settings = Settings(base_url=sim.base_url, api_key=Secret(DEFAULT_KEY),
                            rate=RateSpec.parse(rate), journal=out / "journal.sqlite")
        code = execute_run(source, settings=settings, ledger_path=ledger_path,
                           options=RunOptions(skip_invalid=True, export_dir=out),
                           json_output=False, progress=RunProgress.for_terminal(err_console),
                           invocation=Invocation({"template": str(template),
                                                  "ledger": str(ledger_path),
                                                  "export_dir": str(out)}
                                                 if template else {"ledger": str(ledger_path)},
                                                 campaign_file))
        console.rule(_("3. ask IO what became of each message (dispatcher status)"))
        time.sleep(2 * config.processing_delay_s)  # IO decides a moment after the 201
        try:
            status = check_statuses(settings=settings, ledger_path=ledger_path,
                                    options=StatusOptions(min_age_s=0.0))
        except OperationRefused as exc:
            refused(exc)
        render_status(status, json_output=False)
        stats = sim.stats()
        inbox = sim.inbox()
        console.rule(_("4. remote content: a message with a PDF/A attachment, opened in the app"))
        remote_code = remote_content_demo(
            sim, settings, out, translate=_,
            invocation_for=lambda file, tpl, ledger: Invocation(
                {"template": str(tpl), "ledger": str(ledger)}, file))
    console.rule(_("5. reports (dispatcher report)"))
    report = make_report(ReportRequest(ledger_path, status.campaign_id, out,
                                       input_file=campaign_file))
    for kind, written in report.files.written.items():
        console.print(f"{kind}: {written}", markup=False)
    console.rule(_("6. what the simulator saw"))
    most = max((len(msgs) for msgs in inbox.values()), default=0)
    console.print(_(
        "{messages} messages stored for {citizens} citizens (at most {most} per citizen); "
        "{requests} requests, {throttled} answered 429").format(
            messages=num(sum(len(m) for m in inbox.values())), citizens=num(len(inbox)),
            most=num(most), requests=_count(stats, "requests"),
            throttled=_count(stats, "throttled")), markup=False)
    real = Invocation({"template": str(template)} if template else {})
    console.print(_("To send it for real, with IO_API_KEY set, against the real IO: "
                    "{command}").format(command=suggest(
                        "run", campaign_file, flags=("--skip-invalid",), invocation=real)),
                  markup=False)
    raise typer.Exit(int(code or remote_code))


DEMO_FILES = ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "ledger.sqlite.lock",
              "journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm",
              "results.csv", "results.parquet", "report.html", "summary.json")


def _clear_demo_files(out: Path) -> None:
    """Remove only what an earlier demo wrote there; never anything else in the folder."""
    for name in DEMO_FILES:
        (out / name).unlink(missing_ok=True)


def _count(stats: dict[str, object], name: str) -> str:
    value = stats.get(name)
    if isinstance(value, dict):
        value = value.get("total", sum(v for v in value.values() if isinstance(v, int)))
    return num(value) if isinstance(value, int) else "?"
