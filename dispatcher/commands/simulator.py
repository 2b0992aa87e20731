"""``dispatcher simulator``: serve the embedded IO API simulator until Ctrl+C."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer

from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    abort,
    console,
    err_console,
    fail,
    num,
    root_language,
    use_language,
)
from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

DEFAULT_PORT = 8787


def _share(help_text: str) -> Any:
    return typer.Option(None, min=0.0, max=1.0, help=help_text, show_default=False)


def command(
    context: typer.Context,
    host: str | None = typer.Option(
        None, "--host",
        help="Address to listen on (default: 127.0.0.1). A non-loopback address is served "
             "only when given here, with a warning: the demo keys are public.",
        show_default=False,
    ),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535,
                             help="TCP port; 0 picks a free one (printed on stdout)."),
    keys_file: Path | None = typer.Option(
        None, "--keys-file",
        help="TOML or JSON file with a 'keys' list (key, ente, service_id, sandbox, "
             "authorized_recipients, premium_write, premium_read, third_party, payee, "
             "feed_read, max_allowed_payment_amount, remote_configurations, manage, "
             "organization_fiscal_code), optional 'rate' and 'ente_rates'. Replaces the "
             "default key 'demo-key'.",
        show_default=False,
    ),
    rate: str | None = typer.Option(
        None, "--rate",
        help="Gateway window per ente, shared by all its keys and endpoints, e.g. 150/5s "
             "(default: 150/5s); 0 = unlimited.",
        show_default=False,
    ),
    ente_rate: list[str] | None = typer.Option(
        None, "--ente-rate",
        help="Per-ente window override, ENTE=RATE (e.g. comune=250/5s); repeatable.",
        show_default=False,
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of the population draw and of the faults (default: 0).",
        show_default=False,
    ),
    share_missing: float | None = _share(
        "Share of fiscal codes without an IO profile: 404, messages REJECTED (default: 0.1)."),
    share_blocked: float | None = _share(
        "Share of citizens who blocked the service: sender_allowed false (default: 0.05)."),
    population_file: Path | None = typer.Option(
        None, "--population-file",
        help="CSV (fiscal_code,state) or JSON file; state is allowed, blocked or missing. "
             "Unlisted codes still get the seeded draw.",
        show_default=False,
    ),
    processing_delay: float | None = typer.Option(
        None, "--processing-delay", min=0.0,
        help="Seconds from 201 to PROCESSED/REJECTED/FAILED (default: 0.2); 0 = at once.",
        show_default=False,
    ),
    max_payment_amount: int | None = typer.Option(
        None, "--max-payment-amount", min=0, max=9_999_999_999,
        help="Payment cap in euro cents for every key (IO's real default is 0, which makes "
             "payment messages fail with 400) (default: demo-key 9999999999).",
        show_default=False,
    ),
    latency_ms: float | None = typer.Option(
        None, "--latency-ms", min=0.0, help="Fixed latency added to faulty endpoints (default: 0).",
        show_default=False,
    ),
    jitter_ms: float | None = typer.Option(
        None, "--jitter-ms", min=0.0,
        help="Random extra latency: mean (exponential) or width (uniform) (default: 0).",
        show_default=False,
    ),
    jitter: str | None = typer.Option(
        None, "--jitter",
        help="Jitter distribution: exponential or uniform (default: exponential).",
        show_default=False,
    ),
    reset_before: float | None = _share(
        "Share of requests whose connection is reset before processing: nothing stored."),
    gateway_errors: float | None = _share(
        "Share of 502/504 gateway answers before the backend: nothing stored."),
    errors_500: float | None = _share(
        "Share of backend 500 ProblemJson answers, returned before storing."),
    gateway_errors_after_store: float | None = _share(
        "Share of 504 answers after the message was stored (ambiguous for the client)."),
    drop_after_store: float | None = _share(
        "Share of connections closed with no response after the message was stored."),
    processing_failures: float | None = _share(
        "Share of stored messages that end FAILED instead of PROCESSED/REJECTED."),
    fault_endpoints: str | None = typer.Option(
        None, "--fault-endpoints",
        help="Comma list of endpoints the faults and latency apply to: messages, profiles, "
             "message_status, subscriptions_feed (default: messages).",
        show_default=False,
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn's log level."),
    lang: str | None = LANG_OPTION,
) -> None:
    # Long: one typer.Option per flag (they are the command's --help); the body is short.
    """Serve a simulated IO API (profiles, messages, status, subscriptions feed) on loopback.

    The default key is 'demo-key' (ente 'demo', service 'demo-service') with every
    permission: Premium, third-party data, payee, subscriptions feed, payments up to
    9999999999 cents and the remote-content configuration 01J0000000000000000000DEM0; it is
    also the MANAGE key of the configuration API (IO_MANAGE_KEY=demo-key for rc-config).
    The API is under /api/v1; point the dispatcher at it with
    IO_BASE_URL=http://127.0.0.1:PORT/api/v1 IO_API_KEY=demo-key.

    The control surface (no key, no rate limit) is under /__sim__/: GET inbox, inbox/{cf},
    stats, config; PATCH config (faults, rate, ...); POST reset, citizens/{cf}
    (consent/profile), messages/{id} (read/paid), feed, clock/advance, open (as the app).

    `dispatcher simulator open MESSAGE_ID` opens a stored message as IO's backend does for
    the app (remote content fetched from the configuration's base URL) and prints it.
    """
    if context.invoked_subcommand is not None:  # ``dispatcher simulator open …``
        if lang is not None:
            root_language(lang)  # ``simulator --lang it open``: the default of ``open``
        return
    use_language(lang)
    from dispatcher.simulator import ConfigError

    try:
        config = build_config(
            keys_file=keys_file, max_payment_amount=max_payment_amount, rate=rate,
            ente_rate=ente_rate, seed=seed, share_missing=share_missing,
            share_blocked=share_blocked, population_file=population_file,
            processing_delay=processing_delay, latency_ms=latency_ms, jitter_ms=jitter_ms,
            jitter=jitter, reset_before=reset_before, gateway_errors=gateway_errors,
            errors_500=errors_500, gateway_errors_after_store=gateway_errors_after_store,
            drop_after_store=drop_after_store, processing_failures=processing_failures,
            fault_endpoints=fault_endpoints,
        )
    except ConfigError as exc:
        abort(str(exc), ExitCode.CONFIG_ERROR)
    _serve(config, host, port, log_level)


def build_config(*, keys_file: Path | None = None, max_payment_amount: int | None = None,
                 **flags: Any) -> Any:
    """The ``SimulatorConfig`` the flags describe: defaults, then the keys file, then flags.

    Raises ``ConfigError`` with a message naming the bad setting.
    """
    from dispatcher.simulator import SimulatorConfig, apply_changes, load_keys_file

    config = SimulatorConfig()
    if keys_file is not None:
        config = apply_changes(config, load_keys_file(keys_file))
    config = apply_changes(config, _changes(**flags))
    if max_payment_amount is not None:
        keys = [{**_key_dict(k), "max_allowed_payment_amount": max_payment_amount}
                for k in config.keys]
        config = apply_changes(config, {"keys": keys})
    return config


def _changes(**flags: Any) -> dict[str, Any]:
    """Only the flags that were given, shaped as a config change set."""
    faults = {
        name: flags.get(flag) for flag, name in (
            ("seed", "seed"), ("latency_ms", "latency_ms"), ("jitter_ms", "jitter_ms"),
            ("jitter", "jitter"), ("reset_before", "reset_before_share"),
            ("gateway_errors", "gateway_error_share"), ("errors_500", "error_500_share"),
            ("gateway_errors_after_store", "gateway_error_after_store_share"),
            ("drop_after_store", "drop_after_store_share"),
            ("processing_failures", "processing_failure_share"),
            ("fault_endpoints", "endpoints"),
        ) if flags.get(flag) is not None
    }
    population = {
        name: flags.get(flag) for flag, name in (
            ("seed", "seed"), ("share_missing", "share_missing"),
            ("share_blocked", "share_blocked"),
        ) if flags.get(flag) is not None
    }
    if flags.get("population_file") is not None:
        population["file"] = str(flags["population_file"])
    changes: dict[str, Any] = {}
    if faults:
        changes["faults"] = faults
    if population:
        changes["population"] = population
    if flags.get("rate") is not None:
        changes["rate"] = flags["rate"]
    if flags.get("ente_rate"):
        pairs = [item.partition("=") for item in flags["ente_rate"]]
        bad = [item for item, (_, sep, value) in zip(flags["ente_rate"], pairs, strict=True)
               if not sep or not value]
        if bad:
            from dispatcher.simulator import ConfigError

            raise ConfigError(f"--ente-rate expects ENTE=RATE, got {bad}")
        changes["ente_rates"] = {ente: value for ente, _, value in pairs}
    if flags.get("processing_delay") is not None:
        changes["processing_delay_s"] = flags["processing_delay"]
    return changes


def _key_dict(key: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {name: sorted(value) if isinstance(value, frozenset) else value
            for name, value in asdict(key).items()}


def _serve(config: Any, host: str | None, port: int, log_level: str) -> None:
    import uvicorn

    from dispatcher.simulator import create_app
    from dispatcher.simulator.server import bind_socket, uvicorn_config

    address = host or "127.0.0.1"
    try:
        app = create_app(config)
        sock = bind_socket(address, port, allow_non_loopback=host is not None)
    except OSError as exc:
        fail(N_("cannot listen on {address}:{port}: {error}"), ExitCode.CONFIG_ERROR,
             address=address, port=str(port), error=exc.strerror or str(exc))
    except ValueError as exc:  # ConfigError (unreadable population file) or a refused address
        abort(str(exc), ExitCode.CONFIG_ERROR)
    bound = sock.getsockname()[1]
    shown = f"[{address}]" if ":" in address else address
    url = f"http://{shown}:{bound}"
    if host is not None and not _is_loopback(address):
        err_console.print(_("warning: serving on {address}: anyone who can reach it can use "
                            "the public demo keys").format(address=address), markup=False,
                          style="yellow")
    console.print(f"IO simulator: {url}/api/v1 (control: {url}/__sim__)", markup=False)
    err_console.print(_("keys: {keys} · rate {rate} per ente · Ctrl+C stops").format(
        keys=", ".join(k.ente + "/" + k.service_id for k in config.keys), rate=config.rate),
        markup=False)
    # uvicorn re-raises the Ctrl+C it handled after a graceful stop: that is a normal exit.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn_config(app, log_level=log_level)).run(sockets=[sock])


def _is_loopback(address: str) -> bool:
    import ipaddress
    import socket

    try:
        resolved = socket.getaddrinfo(address, None)[0][4][0]
        return ipaddress.ip_address(resolved).is_loopback
    except (OSError, ValueError):
        return False


def open_command(
    message_id: str = typer.Argument(..., metavar="MESSAGE_ID",
                                     help="The message id IO gave (the ledger keeps it)."),
    fiscal_code: str | None = typer.Option(
        None, "--fiscal-code", help="The recipient: another citizen's message is 'no such "
        "message', as in the app.", show_default=False),
    url: str | None = typer.Option(
        None, "--url", help="The simulator (default: IO_BASE_URL without /api/v1, else "
        f"http://127.0.0.1:{DEFAULT_PORT}).", show_default=False),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Open a message as IO's backend does for the app, and print what the citizen sees.

    For a remote-content message the simulator calls the configuration's base URL with its
    key header and the citizen's fiscal_code (Lollipop-signed when enabled) and applies IO's
    checks. Exit codes: 0 shown · 2 no such message, or not in the inbox · 3 IO would show
    an error (502 bad or missing content/attachments, 415 not a PDF, 503 not ready) ·
    4 the simulator cannot be reached.
    """
    import os

    import httpx

    from dispatcher.commands._output import json_errors, print_document

    json_errors(json_output)
    use_language(lang)
    base = url or os.environ.get("IO_BASE_URL", "").removesuffix("/").removesuffix("/api/v1")
    base = base or f"http://127.0.0.1:{DEFAULT_PORT}"
    body = {"message_id": message_id, **({"fiscal_code": fiscal_code} if fiscal_code else {})}
    try:
        response = httpx.post(f"{base.rstrip('/')}/__sim__/open", json=body, timeout=60)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        fail(N_("cannot reach the simulator at {url}: {error}"), ExitCode.CONFIG_ERROR,
             url=base, error=type(exc).__name__)
    status = response.status_code
    code = (ExitCode.OK if status == 200 else ExitCode.INVALID_INPUT if status in (400, 404, 409)
            else ExitCode.INCOMPLETE)
    if json_output:
        print_document({"ok": status == 200, "http_status": status, **answer,
                        "exit_code": int(code)})
        raise typer.Exit(int(code))
    if status != 200:
        # the simulator's own words (English, as IO's backend answers them)
        reason = answer.get("error") or f"{status} {answer.get('reason')}: {answer.get('detail')}"
        if code == ExitCode.INCOMPLETE:
            fail(N_("IO would show an error: {reason}"), code, reason=reason)
        abort(reason, code)
    print_opened(answer)


def print_opened(view: dict[str, Any]) -> None:
    """What the app shows of an opened message, in the language in use."""
    if view["remote_content"] or "environment" in view:
        where = _("{environment} environment, Lollipop {lollipop}, {requests} request(s) to "
                  "the ente").format(environment=view["environment"],
                                     lollipop=_("on") if view["lollipop"] else _("off"),
                                     requests=num(view["requests"]))
    else:
        where = _("a message without remote content")
    lines = [_("Opened as the app would ({where}):").format(where=where),
             _("Subject: {subject}").format(subject=view["subject"]), "",
             str(view["markdown"]), ""]
    precondition = view.get("precondition")
    if precondition:
        lines += [_("Precondition: {title}").format(title=precondition["title"]),
                  str(precondition["markdown"]), ""]
    for item in view.get("attachments") or []:
        lines.append(_("Attachment {name}: {size} bytes, sha256 {sha256}").format(
            name=item["name"] or item["id"], size=item["size"], sha256=item["sha256"]))
    console.print("\n".join(lines).rstrip(), markup=False)


app = typer.Typer(add_completion=False, help="Serve the IO simulator; `open` a message as "
                  "the app does.")
app.callback(invoke_without_command=True)(command)
app.command("open")(open_command)
