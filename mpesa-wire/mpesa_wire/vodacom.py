"""What Vodacom's two M-Pesa APIs share (the multi-market OpenAPI, ``openapi``, and Vodacom
Mozambique's own API, ``vodacom_mz``): the portal's public key, the bearer made by encrypting a
secret with it, and the transaction reference made from our idempotency key.

Sources: docs/markets/vodacom-openapi.md sections 2 and 8 (the OpenAPI portal's getSession page;
paymentsds ``configuration`` and abdulmueid ``Config::getBearerToken`` for Mozambique: the same
base64(RSA PKCS#1 v1.5(public key, secret)) over a base64 SubjectPublicKeyInfo).
"""

import base64
import binascii
import re

from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

_REFERENCE = re.compile(r"[^0-9A-Za-z]")


def public_key_der(text) -> bytes:
    """The market's public key as DER: the portal shows it as base64 of the SubjectPublicKeyInfo;
    a PEM block (what some clients wrap it in) is accepted too."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    body = re.sub(r"-----(BEGIN|END) PUBLIC KEY-----|\s", "", text or "")
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public_key must be the base64 public key from the M-Pesa portal") from None
    if not der:
        raise ValueError("public_key is required")
    return der


def encrypt(public_key: str, text: str) -> str:
    """base64(RSA PKCS#1 v1.5(public key, text)); ValueError when the key cannot encrypt."""
    key = serialization.load_der_public_key(public_key_der(public_key), backend=default_backend())
    return base64.b64encode(key.encrypt(text.encode("utf-8"), padding.PKCS1v15())).decode("ascii")


def transaction_reference(conversation_id: str) -> str:
    """input_TransactionReference (1 to 20 letters and digits) from our idempotency key."""
    return _REFERENCE.sub("", conversation_id)[:20] or "G2P"


class StatementUnavailable(ValueError):
    """No statement reader for this family (see :func:`parse_statement`)."""


def parse_statement(data, filename="", **_options):
    """Vodacom's organisation portal export layout is not public (docs/markets/vodacom-openapi.md):
    refused with a clear reason rather than read by guesswork."""
    del data, filename
    raise StatementUnavailable(
        "statements of Vodacom's M-Pesa organisation portal cannot be imported yet: their layout is "
        "not publicly documented"
    )
