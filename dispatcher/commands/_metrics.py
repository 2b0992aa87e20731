"""The Prometheus textfile that ``run`` and ``status`` leave behind with ``--metrics-file``.

Cron jobs end before a scraper could ask them; node_exporter's textfile collector reads the
file instead (the format and the atomic write are :mod:`dispatcher.report.metrics`'s job).
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from dispatcher.commands._output import err_console


def leave_metrics(ledger_path: Path, campaign_id: int, metrics_file: Path) -> None:
    """The Prometheus textfile after a cron run; a failure is reported, the run's code kept."""
    from dispatcher.ledger import LedgerError
    from dispatcher.report import write_metrics_for_ledger

    try:
        write_metrics_for_ledger(ledger_path, campaign_id, metrics_file)
    except (OSError, LedgerError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        err_console.print(f"[bold red]error:[/] cannot write the metrics file "
                          f"{escape(str(metrics_file))}: {escape(str(reason))}", markup=True)
