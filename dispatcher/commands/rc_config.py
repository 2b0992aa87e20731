"""``dispatcher rc-config create|list|show|update``: the service's remote-content configurations.

Thin, like every command: flags → one operation (``dispatcher/operations/rc_config.py``) →
its answer printed (or one JSON document) → its exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    abort,
    console,
    json_errors,
    print_document,
    refused,
    use_language,
)
from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.ioapi.rc_config import Configuration, NewConfiguration
    from dispatcher.operations.rc_config import RcConfigResult
    from dispatcher.settings import Settings

FILE_HELP = r"""The configuration as a TOML file; it holds no secret:

    name = "TARI 2027"
    description = "Avvisi TARI con allegati"
    has_precondition = "NEVER"        # ALWAYS | ONCE | NEVER (default NEVER)
    is_lollipop_enabled = false       # default false
    disable_lollipop_for = []         # fiscal codes (default none)

    \[prod_environment]
    base_url = "https://contenuti.comune.example.it/io"
    header_key_name = "X-Api-Key"     # the header IO puts the key in
    key_env = "IO_CONTENT_KEY"        # or: key_file = "content.key" (beside this file)

    \[test_environment]                # optional: these citizens are served from here
    base_url = "https://test.comune.example.it/io"
    header_key_name = "X-Api-Key"
    key_file = "/etc/dispatcher/content-test.key"
    test_users = ["AAAAAA00A00A000A"]
"""

KEY_HELP = (
    "The service's MANAGE key is read from IO_MANAGE_KEY or IO_MANAGE_KEY_FILE, never from "
    "flags; IO_BASE_URL as for every command (default https://api.io.pagopa.it/api/v1). "
    "Exit codes: 0 done · 2 IO refused the file or the id (400, 404) or the file is invalid · "
    "3 no usable answer (after a create: list before creating again) · 4 no manage key, "
    "key refused, or another ente's configuration."
)

app = typer.Typer(
    help="IO's remote-content configurations (where IO fetches remote content and "
         "attachments, with which key): create, list, show, update. " + KEY_HELP,
    no_args_is_help=True,
    add_completion=False,
)

_CONFIG = typer.Option(None, "--config", help="TOML settings file (base_url, rate, ...).")
_JSON = typer.Option(False, "--json", help="Print one JSON document.")


@app.callback()
def group() -> None:
    """IO's remote-content configurations: create, list, show, update (MANAGE key)."""


@app.command("create", help="Create a configuration from FILE; prints its configuration_id.\n\n"
             + FILE_HELP + "\n\n" + KEY_HELP)
def create(
    file: Path = typer.Argument(..., help="The configuration's TOML file.", show_default=False),
    config: Path | None = _CONFIG,
    json_output: bool = _JSON,
    lang: str | None = LANG_OPTION,
) -> None:
    json_errors(json_output)
    use_language(lang)
    from dispatcher.operations.rc_config import create_configuration

    settings, new = _settings(config), _file(file)
    _finish(_call(lambda: create_configuration(settings, new)), json_output)


@app.command("list", help="List this ente's configurations (keys are never shown).\n\n"
             + KEY_HELP)
def list_(config: Path | None = _CONFIG, json_output: bool = _JSON,
          lang: str | None = LANG_OPTION) -> None:
    json_errors(json_output)
    use_language(lang)
    from dispatcher.operations.rc_config import list_configurations

    settings = _settings(config)
    _finish(_call(lambda: list_configurations(settings)), json_output)


@app.command("show", help="Show one configuration (its content keys are never shown).\n\n"
             + KEY_HELP)
def show(
    configuration_id: str = typer.Argument(..., metavar="CONFIGURATION_ID",
                                           help="The ULID IO gave at creation."),
    config: Path | None = _CONFIG,
    json_output: bool = _JSON,
    lang: str | None = LANG_OPTION,
) -> None:
    json_errors(json_output)
    use_language(lang)
    from dispatcher.operations.rc_config import show_configuration

    settings = _settings(config)
    _finish(_call(lambda: show_configuration(settings, configuration_id)), json_output)


@app.command("update", help="Replace a configuration with FILE (IO's update takes the whole "
             "body: every field, both environments, the keys).\n\n" + FILE_HELP + "\n\n"
             + KEY_HELP)
def update(
    configuration_id: str = typer.Argument(..., metavar="CONFIGURATION_ID",
                                           help="The ULID IO gave at creation."),
    file: Path = typer.Argument(..., help="The configuration's TOML file.", show_default=False),
    config: Path | None = _CONFIG,
    json_output: bool = _JSON,
    lang: str | None = LANG_OPTION,
) -> None:
    json_errors(json_output)
    use_language(lang)
    from dispatcher.operations.rc_config import update_configuration

    settings, new = _settings(config), _file(file)
    _finish(_call(lambda: update_configuration(settings, configuration_id, new)), json_output)


def _settings(config: Path | None) -> Settings:
    from dispatcher.settings import ConfigError, load_settings

    try:
        settings = load_settings(config_file=config)
        settings.require_manage_key()
    except ConfigError as exc:
        abort(str(exc), ExitCode.CONFIG_ERROR)
    return settings


def _file(path: Path) -> NewConfiguration:
    from dispatcher.operations.rc_config import ConfigurationFileError, load_configuration_file

    try:
        return load_configuration_file(path)
    except ConfigurationFileError as exc:
        abort(str(exc), ExitCode.INVALID_INPUT)


def _call(operation: Callable[[], RcConfigResult]) -> RcConfigResult:
    from dispatcher.operations.errors import OperationRefused

    try:
        result = operation()
    except OperationRefused as exc:
        refused(exc)
    return result


def _finish(result: RcConfigResult, json_output: bool) -> None:
    code = result.exit_code
    answer = result.answer
    if json_output:
        document: dict[str, object] = {
            "ok": code == ExitCode.OK, "action": result.action, "result": answer.kind.value,
            "http_status": answer.http_status, "detail": answer.detail,
            "configuration_id": result.configuration_id, "exit_code": int(code),
        }
        if result.forbidden_reason:
            document["forbidden"] = result.forbidden_reason
        if answer.configuration is not None:
            document["configuration"] = answer.configuration.view()
        if result.action == "list":
            document["configurations"] = [c.view() for c in answer.configurations]
        print_document(document)
        raise typer.Exit(int(code))
    if code != ExitCode.OK:
        abort(_failure_text(result), code)
    if result.action == "create" and answer.configuration is not None:
        console.print(_("Created configuration {configuration_id}. Put it in the campaign's "
                        "template as configuration_id.").format(
                            configuration_id=result.configuration_id), markup=False)
        _print_configuration(answer.configuration)
    elif result.action == "update":
        console.print(_("Updated configuration {configuration_id}.").format(
            configuration_id=result.configuration_id), markup=False)
    elif result.action == "list":
        if not answer.configurations:
            console.print(_("No remote-content configuration for this ente yet "
                            "(`dispatcher rc-config create FILE`)."), markup=False)
        for configuration in answer.configurations:
            _print_configuration(configuration)
    elif answer.configuration is not None:
        _print_configuration(answer.configuration)


# What IO refused, and what it left unanswered, one whole sentence per action (a translation
# words each its own way).
_REFUSED = {
    "create": N_("IO refused creating the configuration{status}: {detail}"),
    "list": N_("IO refused listing the configurations{status}: {detail}"),
    "show": N_("IO refused reading configuration {configuration_id}{status}: {detail}"),
    "update": N_("IO refused updating configuration {configuration_id}{status}: {detail}"),
}
_UNANSWERED = {
    "create": N_("no usable answer from IO while creating the configuration: {detail}"),
    "list": N_("no usable answer from IO while listing the configurations: {detail}"),
    "show": N_("no usable answer from IO while reading configuration {configuration_id}: "
               "{detail}"),
    "update": N_("no usable answer from IO while updating configuration "
                 "{configuration_id}: {detail}"),
}


def _failure_text(result: RcConfigResult) -> str:
    answer = result.answer
    action = result.action if result.action in _REFUSED else "update"
    fields = {
        "configuration_id": result.configuration_id,
        "status": f" ({answer.http_status})" if answer.http_status else "",
        # IO's or the operation's own words (English), or the kind of answer (a code)
        "detail": result.forbidden_reason or answer.detail or answer.kind.value,
    }
    if answer.kind.value == "failed":
        return _(_UNANSWERED[action]).format(**fields)
    text = _(_REFUSED[action]).format(**fields)
    if answer.kind.value == "ambiguous":
        text += _("; IO may have created it: run `dispatcher rc-config list` before creating "
                  "it again")
    return text


def _print_configuration(configuration: Configuration) -> None:
    """A few lines per configuration; fiscal codes masked, keys only said to be set."""
    from dispatcher.privacy import mask_fiscal_code

    def codes(values: tuple[str, ...] | None) -> str:
        return ", ".join(mask_fiscal_code(v) for v in values or ()) or _("none")

    # The field names are the TOML file's (code, the same in every language); the rest is said.
    lines = [
        f"{configuration.configuration_id}  {configuration.name}",
        f"  description: {configuration.description}",
        f"  has_precondition: {configuration.has_precondition}",
        f"  is_lollipop_enabled: {str(configuration.is_lollipop_enabled).lower()} "
        + _("(disabled for: {codes})").format(codes=codes(configuration.disable_lollipop_for)),
        "  " + _("owner (user_id): {user_id}").format(
            user_id=configuration.user_id or _("not given")),
    ]
    for name in ("prod_environment", "test_environment"):
        environment = getattr(configuration, name)
        if environment is None:
            lines.append(f"  {name}: " + _("none"))
            continue
        lines.append(f"  {name}: {environment.base_url} " + _(
            "(header {header}, key set, never shown)").format(
                header=environment.authentication.header_key_name))
        if environment.test_users is not None:
            lines.append(f"    test_users: {codes(environment.test_users)}")
    console.print("\n".join(lines), markup=False)
