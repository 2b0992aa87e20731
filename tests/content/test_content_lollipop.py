"""Lollipop: a request signed by the citizen's device key is told from an unsigned, a
tampered and a foreign one; the server's mode decides what is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from contenttools import CITIZEN, OTHER_CITIZEN, headers, registered_store, served, write_pdf
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from dispatcher.content.lollipop import verify
from dispatcher.content.server import LollipopMode
from dispatcher.simulator.lollipop_signer import DeviceKey

APP_URL = "https://app-backend.io.italia.it/api/v1/third-party-messages/01JABC/precondition"
SERVER_URL = "http://127.0.0.1:8788/messages/M-1/precondition"


@pytest.fixture(scope="module")
def device() -> DeviceKey:
    return DeviceKey.generate()


def signed(device: DeviceKey, fiscal_code: str = CITIZEN) -> dict[str, str]:
    request = headers(fiscal_code)
    return {**request, **device.sign("GET", APP_URL, request)}


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_a_request_signed_by_the_device_key_verifies(kind: str) -> None:
    verdict = verify("GET", SERVER_URL, signed(DeviceKey.generate(kind)))
    assert (verdict.present, verdict.valid) == (True, True), verdict.reason


def test_no_lollipop_headers_is_absent_not_invalid() -> None:
    verdict = verify("GET", SERVER_URL, headers())
    assert (verdict.present, verdict.valid) == (False, False)


@pytest.mark.parametrize(("header", "value"), [
    ("x-pagopa-lollipop-original-url", APP_URL.replace("precondition", "other")),
    ("x-pagopa-lollipop-original-method", "POST"),
    ("signature", "sig1=:" + "A" * 86 + "==:"),
])
def test_a_tampered_request_does_not_verify(device: DeviceKey, header: str, value: str) -> None:
    request = signed(device)
    request[header] = value
    verdict = verify("GET", SERVER_URL, request)
    assert (verdict.present, verdict.valid) == (True, False)
    assert "sig1" in verdict.reason


def test_another_key_than_the_one_that_signed_is_refused(device: DeviceKey) -> None:
    request = signed(device)
    impostor = DeviceKey.generate()
    request["x-pagopa-lollipop-public-key"] = impostor.public_key_header
    assert "thumbprint" in verify("GET", SERVER_URL, request).reason  # the ref names the key
    request["x-pagopa-lollipop-assertion-ref"] = f"sha256-{impostor.thumbprint}"
    verdict = verify("GET", SERVER_URL, request)
    assert not verdict.valid and "does not verify" in verdict.reason


def test_a_signature_for_another_citizen_is_refused(device: DeviceKey) -> None:
    request = signed(device, OTHER_CITIZEN)
    request["fiscal_code"] = CITIZEN
    verdict = verify("GET", SERVER_URL, request)
    assert not verdict.valid and "user-id" in verdict.reason


def test_a_signature_that_does_not_cover_the_lollipop_components_is_refused(
        device: DeviceKey) -> None:
    request = signed(device)
    bare = {"x-pagopa-lollipop-original-method": "GET"}
    message = type("Request", (), {"method": "GET", "url": SERVER_URL, "headers": bare})()
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ECDSA_P256_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={
            "k": device._private_key}))
    signer.sign(message, key_id="k", label="sig1",
                covered_component_ids=("x-pagopa-lollipop-original-method",))
    request["signature-input"] = bare["Signature-Input"]
    request["signature"] = bare["Signature"]
    verdict = verify("GET", SERVER_URL, request)
    assert not verdict.valid and "original-url" in verdict.reason


def test_an_old_signature_is_refused(device: DeviceKey) -> None:
    request = headers()
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    request.update(device.sign("GET", APP_URL, request, created=two_hours_ago))
    verdict = verify("GET", SERVER_URL, request)
    assert not verdict.valid and "age" in verdict.reason


@pytest.mark.parametrize("public_key", ["not base64 !", "bm90IGpzb24", "eyJrdHkiOiJPS1AifQ"])
def test_a_broken_public_key_is_a_reason_not_a_crash(device: DeviceKey, public_key: str) -> None:
    request = signed(device)
    request["x-pagopa-lollipop-public-key"] = public_key
    verdict = verify("GET", SERVER_URL, request)
    assert verdict.present and not verdict.valid
    assert "public-key" in verdict.reason


# -- the server's modes ------------------------------------------------------------------------


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return registered_store(tmp_path / "content.sqlite", write_pdf(tmp_path / "a.pdf"))


def _statuses(store_path: Path, mode: LollipopMode, device: DeviceKey) -> tuple[int, ...]:
    tampered = signed(device)
    tampered["x-pagopa-lollipop-original-url"] += "?x=1"
    with served(store_path, lollipop=mode) as client:
        answers = [client.get("/messages/M-1", headers=h)
                   for h in (headers(), signed(device), tampered)]
    assert all(a.content == b"" for a in answers if a.status_code == 403)
    return tuple(a.status_code for a in answers)


def test_accept_verifies_when_present_and_refuses_a_bad_signature(
        store_path: Path, device: DeviceKey) -> None:
    assert _statuses(store_path, LollipopMode.ACCEPT, device) == (200, 200, 403)


def test_required_refuses_unsigned_requests_too(store_path: Path, device: DeviceKey) -> None:
    assert _statuses(store_path, LollipopMode.REQUIRED, device) == (403, 200, 403)


def test_off_ignores_the_headers(store_path: Path, device: DeviceKey) -> None:
    assert _statuses(store_path, LollipopMode.OFF, device) == (200, 200, 200)


def test_a_signed_request_for_an_id_the_url_must_encode_verifies(
        tmp_path: Path, device: DeviceKey) -> None:
    """The signature is checked against the URL as IO sent it (still percent-encoded, the
    proxy's prefix kept), not the decoded one: an id with a space or an accent is served."""
    from contenttools import REGISTERED, content

    from dispatcher.content.store import ContentStore

    path = tmp_path / "content.sqlite"
    with ContentStore.open(path) as store:
        store.register([(CITIZEN, content("RÉF 1"))], registered_at=REGISTERED)
    for root in ("", "/io"):
        with served(path, lollipop=LollipopMode.REQUIRED, root_path=root) as client:
            answer = client.get("/messages/R%C3%89F%201", headers=signed(device))
            assert answer.status_code == 200, (root, answer.status_code)
            assert client.get("/messages/R%C3%89F%201", headers=headers()).status_code == 403
