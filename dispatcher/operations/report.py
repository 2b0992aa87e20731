"""``dispatcher report``: results for Excel, a page for people, numbers for monitors.

The ledger is opened read-only: a report never creates, upgrades or changes it. The input
columns are found again by the file's SHA-256 (or given with ``--input``); without them the
results still list every row with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from dispatcher.ledger import LedgerError, open_for_reading
from dispatcher.operations.content import read_opens
from dispatcher.operations.errors import OperationRefused, refusals
from dispatcher.operations.exports import find_campaign_input
from dispatcher.report import ReportFiles, ReportOptions, write_reports
from dispatcher.vocabulary import ExitCode

__all__ = ["ReportRequest", "ReportResult", "make_report"]


@dataclass(frozen=True)
class ReportRequest:
    ledger_path: Path
    campaign_id: int | None = None  # default: the latest
    out_dir: Path | None = None  # default: the ledger's folder
    input_file: Path | None = None
    encoding: str | None = None
    delimiter: str | None = None
    options: ReportOptions = field(default_factory=ReportOptions)
    content_store: Path | None = None  # where the remote-content opens are read from


@dataclass(frozen=True)
class ReportResult:
    files: ReportFiles
    note: str | None = None  # why the input columns are missing, for the operator
    exit_code: ExitCode = ExitCode.OK


def make_report(request: ReportRequest) -> ReportResult:
    """Write the chosen files; :class:`OperationRefused` for a missing ledger or input."""
    from dispatcher.report.inputs import InputMismatch

    path = request.ledger_path
    try:
        with refusals(), open_for_reading(path) as ledger:
            if request.campaign_id is not None:
                record = ledger.campaigns.get(request.campaign_id)
            else:
                record = ledger.campaigns.latest()
            if record is None:
                raise LedgerError(f"{path}: the ledger holds no campaign yet")
            # the input is read for its columns (CSV, Parquet, opens) and is looked up anyway:
            # the suggested commands name the campaign file where it is now
            match = find_campaign_input(ledger, record.campaign_id,
                                        explicit=request.input_file,
                                        encoding=request.encoding,
                                        delimiter=request.delimiter,
                                        read=bool(request.options.formats & {"csv", "parquet"})
                                        or request.options.opens is not None)
            options = request.options
            if options.opens is None:  # the read signal of remote-content messages
                opens = read_opens(request.content_store,
                                   ledger.rows.third_party_ids(record.campaign_id).values())
                options = replace(options, opens=opens)
            files = write_reports(ledger, record.campaign_id, request.out_dir or path.parent,
                                  input_frame=match.frame, input_path=match.path,
                                  options=options)
            note = match.note
    except InputMismatch as exc:
        raise OperationRefused(str(exc), ExitCode.INVALID_INPUT) from None
    except OSError as exc:
        raise OperationRefused(
            f"cannot write the reports: {exc.strerror or exc} "
            f"({exc.filename or request.out_dir})", ExitCode.CONFIG_ERROR) from None
    return ReportResult(files, note)
