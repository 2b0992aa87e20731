"""The operation layer: one module per command, between the command line and the rooms.

Each operation takes typed options and returns a typed result that knows its exit code;
what may not run raises :class:`~dispatcher.operations.errors.OperationRefused` (with the
exit code). Operations that talk to IO open a :class:`~dispatcher.operations.session.Session`
(key, ledger and lock, Pacer, client, stop policy, batched writer) and run on it::

    run_campaign(source, settings=..., ledger_path=..., options=RunOptions())  # run
    dry_run(campaign, settings=..., ledger_path=..., check=True)            # run --dry-run
    check_statuses(settings=..., ledger_path=...)                           # status
    send_tests(campaign, settings=..., ledger_path=..., recipients=..., rows=...)  # test
    sync_feed(settings=..., cache_path=..., today=...)                      # feed sync
    make_report(ReportRequest(ledger_path))                                 # report

The modules are imported by name (``dispatcher.operations.run``...), so a command loads
only what it uses.
"""
