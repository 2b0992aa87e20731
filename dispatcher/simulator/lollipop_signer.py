"""A citizen's device key, signing requests the way IO's app does with Lollipop.

The simulator opens remote-content messages as IO's backend does; when the configuration
has ``is_lollipop_enabled`` it forwards signed headers, and the content server's tests need
signed, unsigned and tampered requests. The signature is RFC 9421 over the two Lollipop
components (:data:`dispatcher.content.lollipop.SIGNED_COMPONENTS`), made with the kept
library ``http-message-signatures``; the key is ES256 (P-256) by default, or RSA.

Never imported by production code. There is no SAML assertion behind the key: the
``assertion-ref`` names the key's thumbprint as IO's does, and nothing more.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from dispatcher.content.lollipop import RSA_PSS_SHA256, SIGNED_COMPONENTS, b64url, jwk_thumbprint

__all__ = ["DeviceKey"]

KeyKind = Literal["ec", "rsa"]


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]


def _b64_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


class DeviceKey:
    """The key pair an IO app keeps on the phone; :meth:`sign` adds Lollipop headers."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
        self._private_key = private_key
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            numbers = private_key.public_key().public_numbers()
            size = (private_key.curve.key_size + 7) // 8
            self.public_jwk: dict[str, str] = {
                "kty": "EC", "crv": "P-256",
                "x": b64url(numbers.x.to_bytes(size, "big")),
                "y": b64url(numbers.y.to_bytes(size, "big"))}
            self.algorithm: type[algorithms.HTTPSignatureAlgorithm] = (
                algorithms.ECDSA_P256_SHA256)
        else:
            rsa_numbers = private_key.public_key().public_numbers()
            self.public_jwk = {"kty": "RSA", "n": _b64_int(rsa_numbers.n),
                               "e": _b64_int(rsa_numbers.e)}
            self.algorithm = RSA_PSS_SHA256
        self.thumbprint = jwk_thumbprint(self.public_jwk)

    @classmethod
    def generate(cls, kind: KeyKind = "ec") -> DeviceKey:
        """A fresh key: ES256 (what IO's app makes on most phones) or RSA 2048."""
        if kind == "rsa":
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key_header(self) -> str:
        """``x-pagopa-lollipop-public-key``: the JWK as JSON, base64url."""
        return b64url(json.dumps(self.public_jwk, separators=(",", ":")).encode())

    def sign(self, method: str, url: str, headers: Mapping[str, str], *,
             created: datetime | None = None) -> dict[str, str]:
        """The Lollipop headers to add to a request of the app (``url``: what it called).

        ``headers`` is the request's headers: a ``fiscal_code`` there becomes
        ``x-pagopa-lollipop-user-id``. ``created``: the signing time (default now; a test
        makes an old signature with it). Returns only the headers to add.
        """
        extra = {
            "x-pagopa-lollipop-original-method": method.upper(),
            "x-pagopa-lollipop-original-url": url,
            "x-pagopa-lollipop-public-key": self.public_key_header,
            "x-pagopa-lollipop-assertion-ref": f"sha256-{self.thumbprint}",
            "x-pagopa-lollipop-assertion-type": "SAML",
        }
        citizen = next((v for k, v in headers.items() if k.lower() == "fiscal_code"), None)
        if citizen:
            extra["x-pagopa-lollipop-user-id"] = citizen.strip().upper()
        request = _Request(method.upper(), url, dict(extra))
        signer = HTTPMessageSigner(
            signature_algorithm=self.algorithm,
            key_resolver=MappingKeyResolver(public_keys={},
                                            private_keys={self.thumbprint: self._private_key}))
        signer.sign(request, key_id=self.thumbprint, label="sig1", created=created,
                    nonce=secrets.token_urlsafe(16), covered_component_ids=SIGNED_COMPONENTS)
        return {name.lower(): value for name, value in request.headers.items()}
