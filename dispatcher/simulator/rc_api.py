"""The remote-content configuration API under ``/api/v1/messages-sending``, as rc-func answers.

Same three layers as ``api.py``: the gateway (401, and the ente's shared 150/5 s window), then
faults, then rc-func's checks in its order: the MANAGE subscription (403), the path's ULID
(400), the body (400, io-ts style details), then the lookup (404) and the owner (403).
Owner is the APIM user, the ente here; ``user_id`` in answers is that ente.

Operations (official spec ``io-messages.rc-func.configurations.openapi.yaml``): create
``POST`` → 201 ``RCConfigurationPublic``; list ``GET`` → ``{rcConfigList}``; read ``GET
/{id}`` → ``RCConfigurationResponse``; update ``PUT /{id}`` → 204. There is no delete: any
other method is APIM's 404 for an operation it does not publish.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dispatcher.simulator.api import _answer, _bad_path_param, _gate, state_of, unknown_route
from dispatcher.simulator.rc_configurations import BODY_TYPE, decode_configuration
from dispatcher.simulator.responses import forbidden, internal_error, json_response, problem
from dispatcher.simulator.validation import ULID, parse_json

ENDPOINT = "rc_configurations"
"""Name in the stats counters."""
PATH = "/messages-sending/remote-contents/configurations"
"""Under the API prefix, as APIM publishes rc-func."""


async def collection(request: Request) -> Response:
    """``POST`` creates a configuration, ``GET`` lists the caller's."""
    if request.method not in ("GET", "POST"):
        return await unknown_route(request)
    sim = state_of(request)
    caller = _gate(sim, request, ENDPOINT)
    if isinstance(caller, Response):
        return caller
    raw = await request.body() if request.method == "POST" else b""
    owner = caller.key.ente

    def backend(fail: bool) -> Response:
        if not caller.key.manage:
            return forbidden()
        if request.method == "GET":
            if fail:
                return internal_error("Error while listing configurations (simulated fault)")
            owned = sim.rc_configurations.owned_by(owner)
            return json_response({"rcConfigList": [c.response() for c in owned]})
        body, errors = decode_configuration(parse_json(raw))
        if body is None:
            return problem(400, f"Invalid {BODY_TYPE}", "\n".join(errors))
        if fail:
            return internal_error("Error while creating the configuration (simulated fault)")
        return json_response(sim.rc_configurations.create(owner, body).public(), 201)

    return await _answer(sim, ENDPOINT, caller, backend)


async def item(request: Request) -> Response:
    """``GET`` reads one configuration, ``PUT`` replaces it (owner only)."""
    if request.method not in ("GET", "PUT"):
        return await unknown_route(request)
    sim = state_of(request)
    caller = _gate(sim, request, ENDPOINT)
    if isinstance(caller, Response):
        return caller
    raw = await request.body() if request.method == "PUT" else b""
    configuration_id: str = request.path_params["configuration_id"]

    def backend(fail: bool) -> Response:
        if not caller.key.manage:
            return forbidden()
        if not ULID.fullmatch(configuration_id):
            return _bad_path_param("Ulid", configuration_id)
        body = None
        if request.method == "PUT":
            body, errors = decode_configuration(parse_json(raw))
            if body is None:
                return problem(400, f"Invalid {BODY_TYPE}", "\n".join(errors))
        if fail:
            return internal_error("Error while reading the configuration (simulated fault)")
        stored = sim.rc_configurations.get(configuration_id)
        if stored is None:
            return problem(404, "Not found",
                           f"Cannot find any configuration with id {configuration_id}")
        if stored.owner != caller.key.ente:
            return forbidden("You're not the owner of this configuration")
        if body is None:
            return json_response(stored.response())
        sim.rc_configurations.update(configuration_id, body)
        return Response(status_code=204)

    return await _answer(sim, ENDPOINT, caller, backend)

