"""Lollipop: checking that a content request was signed by the citizen's own device key.

When a remote-content configuration has ``is_lollipop_enabled``, IO's backend forwards the
app's Lollipop headers with each call to the ente: an HTTP Message Signature (RFC 9421,
``signature`` / ``signature-input``) made on the phone over ``x-pagopa-lollipop-original-
method`` and ``x-pagopa-lollipop-original-url``, and the public key it was made with, a JWK
encoded base64url in ``x-pagopa-lollipop-public-key``. The signature itself is checked by
the kept library ``http-message-signatures``; this module adds what is Lollipop's own:

* the key comes from the request, so the signature must cover both Lollipop components
  (a signature over nothing would verify);
* the algorithm is the ``alg`` parameter (IO signs with ES256, ``ecdsa-p256-sha256``, or
  RSA), or follows from an EC key's curve; it must fit the key;
* ``x-pagopa-lollipop-assertion-ref`` (``sha256-<JWK thumbprint>``, RFC 7638) must name the
  same key, and ``x-pagopa-lollipop-user-id`` the citizen in the ``fiscal_code`` header;
* ``created`` may be up to :data:`CLOCK_SKEW` in the future (phones' clocks drift) and at
  most :data:`MAX_AGE` old.

**Out of scope**: the SAML assertion the ref points at (``x-pagopa-lollipop-auth-jwt``
lets an ente fetch it from IO's assertion API and check that it binds the key to the
citizen). That needs IO's API; this check proves the request was signed by the key IO
forwarded, not that IO's identity provider vouched for that key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import http_sf
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

__all__ = ["LOLLIPOP_HEADERS", "SIGNED_COMPONENTS", "LollipopVerdict", "b64url",
           "jwk_public_key", "jwk_thumbprint", "verify"]

SIGNED_COMPONENTS = ("x-pagopa-lollipop-original-method", "x-pagopa-lollipop-original-url")
"""What IO's app signs on every request; a Lollipop signature must cover both."""

LOLLIPOP_HEADERS = ("signature", "signature-input", "x-pagopa-lollipop-public-key")
"""Any of these present means the request claims to be signed."""

MAX_AGE = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class LollipopVerdict:
    """``present``: the request carries Lollipop headers; ``valid``: they verify."""

    present: bool
    valid: bool
    reason: str


class RSA_PSS_SHA256(algorithms.RSA_PSS_SHA512):  # the library's naming
    """RSA-PSS with SHA-256, which the library does not ship; the salt length is read from
    the signature when verifying, 32 bytes when signing."""

    algorithm_id = "rsa-pss-sha256"

    def __init__(self, public_key: Any = None, private_key: Any = None,
                 password: bytes | None = None) -> None:
        super().__init__(public_key=public_key, private_key=private_key, password=password)
        salt = 32 if private_key is not None else padding.PSS.AUTO
        self.padding = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
        self.hash_algorithm = hashes.SHA256()


ALGORITHMS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": algorithms.ECDSA_P384_SHA384,
    "rsa-pss-sha256": RSA_PSS_SHA256,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
}
_CURVES: dict[str, tuple[type[ec.EllipticCurve], str]] = {
    "P-256": (ec.SECP256R1, "ecdsa-p256-sha256"),
    "P-384": (ec.SECP384R1, "ecdsa-p384-sha384"),
}


class _Refused(Exception):
    """A reason to refuse, in words safe to log."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _Refused(f"{what} is not base64url") from None


def _jwk(header: str) -> dict[str, Any]:
    try:
        jwk = json.loads(_unb64url(header.strip(), "x-pagopa-lollipop-public-key"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Refused("x-pagopa-lollipop-public-key is not a JSON Web Key") from None
    if not isinstance(jwk, dict) or not all(isinstance(v, str) for v in jwk.values()
                                            if not isinstance(v, list)):
        raise _Refused("x-pagopa-lollipop-public-key is not a JSON Web Key")
    return jwk


def jwk_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """The public key a JWK describes (EC P-256/P-384 or RSA); ValueError otherwise."""
    def number(name: str) -> int:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"the JWK has no {name!r}")
        return int.from_bytes(_unb64url(value, f"JWK {name!r}"), "big")

    try:
        if jwk.get("kty") == "EC" and jwk.get("crv") in _CURVES:
            curve = _CURVES[str(jwk["crv"])][0]()
            return ec.EllipticCurvePublicNumbers(number("x"), number("y"), curve).public_key()
        if jwk.get("kty") == "RSA":
            return rsa.RSAPublicNumbers(number("e"), number("n")).public_key()
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    raise ValueError(f"unsupported JWK (kty {jwk.get('kty')!r}, crv {jwk.get('crv')!r})")


def jwk_thumbprint(jwk: Mapping[str, Any], algorithm: str = "sha256") -> str:
    """RFC 7638: the hash of the key's required members, sorted, without spaces; base64url."""
    members = ("crv", "kty", "x", "y") if jwk.get("kty") == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk.get(m) for m in members}, separators=(",", ":"),
                           sort_keys=True)
    return b64url(hashlib.new(algorithm, canonical.encode()).digest())


class _HeaderKey(HTTPSignatureKeyResolver):
    """The key travels with the request: whatever ``keyid`` says, it is that key."""

    def __init__(self, key: object) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> object:
        return self.key


class _Verifier(HTTPMessageVerifier):
    max_clock_skew = CLOCK_SKEW
    allow_label_only_selection = True  # IO's app signs without a tag


@dataclass
class _Request:
    method: str
    url: str
    headers: Mapping[str, str]


def verify(method: str, url: str, headers: Mapping[str, str]) -> LollipopVerdict:
    """Judge the Lollipop headers of one request (``headers`` looked up case-insensitively).

    No Lollipop headers: ``present=False, valid=False``. Never raises for bad input: every
    problem is a refusal whose ``reason`` holds no key material.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if not any(name in lowered for name in LOLLIPOP_HEADERS):
        return LollipopVerdict(False, False, "no Lollipop headers")
    try:
        _check(method, url, lowered)
    except _Refused as exc:
        return LollipopVerdict(True, False, str(exc))
    return LollipopVerdict(True, True, "signature verified")


def _check(method: str, url: str, headers: dict[str, str]) -> None:
    for name in (*LOLLIPOP_HEADERS, *SIGNED_COMPONENTS):
        if not headers.get(name):
            raise _Refused(f"{name} is missing")
    jwk = _jwk(headers["x-pagopa-lollipop-public-key"])
    try:
        key = jwk_public_key(jwk)
    except ValueError as exc:
        raise _Refused(f"x-pagopa-lollipop-public-key: {exc}") from None
    _check_bindings(jwk, headers)
    labels = _signature_inputs(headers["signature-input"])
    request = _Request(method.upper(), url, headers)
    for label, alg in labels.items():
        algorithm = _algorithm(alg, jwk)
        verifier = _Verifier(signature_algorithm=algorithm, key_resolver=_HeaderKey(key))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # label-only selection: chosen above
                verifier.verify(request, max_age=MAX_AGE, expect_label=label,
                                require_components=SIGNED_COMPONENTS)
        except (InvalidSignature, HTTPMessageSignaturesException) as exc:
            raise _Refused(f"signature {label!r} does not verify: {_short(exc)}") from None


def _check_bindings(jwk: Mapping[str, Any], headers: Mapping[str, str]) -> None:
    ref = headers.get("x-pagopa-lollipop-assertion-ref")
    if ref:
        algorithm, _, thumbprint = ref.partition("-")
        if algorithm not in ("sha256", "sha384", "sha512"):
            raise _Refused("x-pagopa-lollipop-assertion-ref names no known hash")
        if thumbprint != jwk_thumbprint(jwk, algorithm):
            raise _Refused("x-pagopa-lollipop-assertion-ref is not the public key's thumbprint")
    user = headers.get("x-pagopa-lollipop-user-id")
    citizen = headers.get("fiscal_code")
    if user and citizen and user.strip().upper() != citizen.strip().upper():
        raise _Refused("x-pagopa-lollipop-user-id is not the citizen in fiscal_code")


def _signature_inputs(value: str) -> dict[str, str | None]:
    """Each label of ``signature-input`` and its ``alg`` parameter (None when absent)."""
    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary")
    except (ValueError, TypeError):
        raise _Refused("signature-input is not a structured-field dictionary") from None
    labels: dict[str, str | None] = {}
    for label, (_, params) in parsed.items():
        alg = params.get("alg")
        labels[label] = alg if isinstance(alg, str) else None
    if not labels:
        raise _Refused("signature-input holds no signature")
    return labels


def _algorithm(alg: str | None, jwk: Mapping[str, Any]
               ) -> type[algorithms.HTTPSignatureAlgorithm]:
    if alg is None:
        if jwk.get("kty") == "EC" and jwk.get("crv") in _CURVES:
            alg = _CURVES[str(jwk["crv"])][1]
        else:
            raise _Refused("signature-input has no alg and the key does not imply one")
    if alg not in ALGORITHMS:
        raise _Refused(f"signature algorithm {alg[:40]!r} is not supported")
    return ALGORITHMS[alg]


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
