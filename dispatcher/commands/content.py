"""``dispatcher content serve|prune``: the ente's remote-content server and its store."""

from __future__ import annotations

from pathlib import Path

import typer

from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    abort,
    console,
    err_console,
    fail,
    json_errors,
    ngettext,
    num,
    print_document,
    use_language,
)
from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

app = typer.Typer(
    help="Remote content: serve what IO fetches when a citizen opens a message, and prune it.",
    no_args_is_help=True,
    add_completion=False,
)

_STORE_HELP = ("The content store file (default: the service's store in the state directory, "
               "$XDG_STATE_HOME/dispatcher/content/, named from IO_BASE_URL and IO_API_KEY; "
               "or the content_store setting).")


@app.callback()
def group() -> None:
    """Remote content: serve what IO fetches when a citizen opens a message, and prune it."""


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to listen on; behind a reverse proxy keep loopback."),
    port: int = typer.Option(8788, "--port", min=0, max=65535,
                             help="TCP port; 0 picks a free one (printed)."),
    root_path: str = typer.Option("", "--root-path",
                                  help="Path prefix on the reverse proxy (e.g. /io); "
                                       "served whether the proxy strips it or not."),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1", "--forwarded-allow-ips",
        help="Comma list of proxy addresses whose X-Forwarded-* headers are believed "
             "('*' for any)."),
    header_key_name: str = typer.Option(
        "X-Functions-Key", "--header-key-name",
        help="The header IO puts the key in: the configuration's "
             "details_authentication.header_key_name."),
    lollipop: str = typer.Option(
        "off", "--lollipop",
        help="off: ignore Lollipop headers; accept: verify them when present and refuse a bad "
             "signature (403); required: refuse unsigned requests too."),
    max_in_flight: int = typer.Option(512, "--max-in-flight", min=1,
                                      help="Requests served at once; beyond, 429."),
    content_store: Path | None = typer.Option(None, "--content-store", help=_STORE_HELP,
                                              show_default=False),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    log_level: str = typer.Option("warning", "--uvicorn-log-level", help="uvicorn's log level."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Serve remote content to IO until Ctrl+C or SIGTERM (in-flight answers finish).

    The key IO must send is read from IO_CONTENT_KEY or the file named by
    IO_CONTENT_KEY_FILE, never from flags. Endpoints: GET /messages/{id},
    /messages/{id}/precondition, /messages/{id}/{attachment_url}; GET /ready for the
    proxy's health check. Every open is recorded in the store. The SAML assertion behind a
    Lollipop signature is not checked (that needs IO's assertion API).
    Exit codes: 0 stopped · 4 configuration error (key, store, header name, address).
    """
    use_language(lang)
    from dispatcher.content.server import LollipopMode
    from dispatcher.content.serving import Listen, bind
    from dispatcher.content.serving import serve as serve_forever
    from dispatcher.operations.content import plan_server
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.settings import ConfigError, load_settings

    try:
        mode = LollipopMode(lollipop.strip().lower())
    except ValueError:
        raise typer.BadParameter(_("use off, accept or required"), param_hint="--lollipop"
                                 ) from None
    if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
        raise typer.BadParameter(_("a path like /io: a leading slash, no trailing one"),
                                 param_hint="--root-path")
    try:
        settings = load_settings(config_file=config)
    except ConfigError as exc:
        abort(str(exc), ExitCode.CONFIG_ERROR)
    try:
        plan = plan_server(settings, store=content_store, header_key_name=header_key_name,
                           lollipop=mode, max_in_flight=max_in_flight, root_path=root_path)
    except OperationRefused as exc:
        abort(exc.message, exc.exit_code)
    listen = Listen(host=host, port=port, forwarded_allow_ips=forwarded_allow_ips,
                    log_level=log_level)
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(N_("cannot listen on {address}:{port}: {error}"), ExitCode.CONFIG_ERROR,
             address=host, port=str(port), error=exc.strerror or str(exc))
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}{root_path}"
    console.print(ngettext(
        "content server on {url} · store {store} ({n} message(s)) · key header {header} · "
        "lollipop {mode} · Ctrl+C stops",
        "content server on {url} · store {store} ({n} message(s)) · key header {header} · "
        "lollipop {mode} · Ctrl+C stops", plan.messages).format(
            url=url, store=plan.options.store_path, n=num(plan.messages),
            header=header_key_name, mode=mode), markup=False)
    if plan.messages == 0:
        err_console.print(_("note:") + " " + _(
            "the store {store} holds no message yet: IO's opens get 404 until `dispatcher run` "
            "registers content in this same file (give run the same --content-store, or the "
            "same content_store setting)").format(store=plan.options.store_path), markup=False)
    if host not in ("127.0.0.1", "::1", "localhost"):
        err_console.print(_("note:") + " " + _(
            "listening beyond loopback; put it behind the HTTPS reverse proxy IO calls, never "
            "on plain HTTP to the internet"), markup=False)
    serve_forever(plan.options, listen, sock)


@app.command("prune")
def prune(
    before: str = typer.Option(
        ..., "--before",
        help="Remove messages registered before this date (2027-03-01: midnight, Italian "
             "time) or date-time (2027-03-01T08:00, Italian time unless it has Z or an "
             "offset).", show_default=False),
    content_store: Path | None = typer.Option(None, "--content-store", help=_STORE_HELP,
                                              show_default=False),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Remove remote content registered before a date, and the attachments nobody uses now.

    Every message removed can no longer be opened in the IO app (IO gets a 404): the count
    is printed. Records of opens are kept for the reports. Exit codes: 0 pruned · 2 bad
    date · 4 no such store, or configuration error.
    """
    json_errors(json_output)
    use_language(lang)
    from dispatcher.operations.content import parse_before, prune_content
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.settings import ConfigError, load_settings

    try:
        cutoff = parse_before(before)
    except ValueError as exc:
        abort(f"--before: {exc}", ExitCode.INVALID_INPUT)
    try:
        settings = load_settings(config_file=config)
        outcome = prune_content(settings, cutoff, store=content_store)
    except ConfigError as exc:
        abort(str(exc), ExitCode.CONFIG_ERROR)
    except OperationRefused as exc:
        abort(exc.message, exc.exit_code)
    result = outcome.result
    if json_output:
        print_document({
            "ok": True, "content_store": str(outcome.path), "before": cutoff.isoformat(),
            "messages_removed": result.messages, "unreadable": result.messages,
            "blobs_removed": result.blobs, "bytes_freed": result.bytes_freed,
            "remaining": outcome.remaining, "exit_code": int(outcome.exit_code)})
    else:
        before_text = cutoff.isoformat()  # the moment exactly, as --before can give it
        console.print(" ".join((
            ngettext("{path}: {n} message(s) registered before {before} removed; they can no "
                     "longer be opened in the IO app.",
                     "{path}: {n} message(s) registered before {before} removed; they can no "
                     "longer be opened in the IO app.", result.messages).format(
                         path=outcome.path, n=num(result.messages), before=before_text),
            ngettext("{n} attachment file(s) no longer used removed ({size} bytes).",
                     "{n} attachment file(s) no longer used removed ({size} bytes).",
                     result.blobs).format(n=num(result.blobs), size=num(result.bytes_freed)),
            ngettext("{n} message(s) remain.", "{n} message(s) remain.",
                     outcome.remaining).format(n=num(outcome.remaining)),
        )), markup=False)
    raise typer.Exit(int(outcome.exit_code))
