"""SPAR, OpenG2P's ID -> financial address mapper: the M-Pesa wallet a person gets at ID issuance is
linked to their ID there, so G2P Bridge (which asks SPAR before every payment) pays that wallet.

G2P Connect 1.x as SPAR mapper 1.1.0 (PyPI ``openg2p-spar-mapper-api``) serves it: ``POST
{mapper}/sync/link`` with a G2P Connect envelope, signed with a detached RS256 JWS over the
compact JSON in a ``Signature`` header (the partner's key is registered with SPAR's key manager
under its sender id). The address is SPAR's mobile-wallet format, which G2P Bridge deconstructs
into the number and the provider (docs/g2p-bridge.md, *SPAR and mobile wallets*).

Standard library, requests and cryptography only: importable and testable without Odoo (the
bridge suite links people in a real SPAR with it).
"""

import base64
import datetime
import json
import uuid

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

MOBILE_WALLET_FA = (
    "mobile_number:{msisdn}.wallet_provider_name:{name}.wallet_provider_code:{code}.fa_type:MOBILE_WALLET"
)


class SparError(Exception):
    """SPAR could not be reached, refused the request, or answered in another shape."""


def mobile_wallet_fa(msisdn, provider_name="M-Pesa", provider_code="MPESA"):
    return MOBILE_WALLET_FA.format(msisdn=msisdn, name=provider_name, code=provider_code)


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def canonical(body):
    """What G2P Connect's signature covers: the JSON without spaces."""
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def detached_jws(private_key_pem, body):
    """``header..signature`` (RS256) over the canonical JSON of ``body``."""
    try:
        key = serialization.load_pem_private_key(
            private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem, password=None
        )
    except (ValueError, TypeError) as exc:
        raise SparError(f"the SPAR signing key is not a PEM private key: {exc}") from None
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(canonical(body))
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}..{_b64url(signature)}"


def post_signed(url, body, private_key_pem, timeout, error=SparError, what="SPAR"):
    """POST a G2P Connect ``body`` as its compact JSON, signed in a ``Signature`` header (how SPAR
    and G2P Bridge take their partners' requests): (response, its JSON or None). ``error`` when
    the host cannot be reached."""
    headers = {"Content-Type": "application/json", "Signature": detached_jws(private_key_pem, body)}
    try:
        response = requests.post(url, data=canonical(body), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise error(f"{what} at {url} could not be reached: {type(exc).__name__}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return response, answer


def link_request(sender_id, items):
    """The G2P Connect envelope linking each item's ``id`` to its ``fa`` (with ``name`` and
    ``phone_number``); returns (body, {reference_id: id})."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    references, requests_ = {}, []
    for item in items:
        reference = uuid.uuid4().hex
        references[reference] = item["id"]
        requests_.append(
            {
                "reference_id": reference,
                "timestamp": now,
                "id": item["id"],
                "fa": item["fa"],
                "name": item.get("name") or "",
                "phone_number": item.get("phone_number") or "",
                "locale": "en",
            }
        )
    body = {
        "header": {
            "version": "1.0.0",
            "message_id": uuid.uuid4().hex,
            "message_ts": now,
            "action": "link",
            "sender_id": sender_id,
            "sender_uri": "",
            "receiver_id": "",
            "total_count": len(requests_),
            "is_msg_encrypted": False,
        },
        "message": {"transaction_id": uuid.uuid4().hex, "link_request": requests_},
    }
    return body, references


def link(mapper_url, sender_id, private_key_pem, items, timeout=30):
    """Link every item in SPAR; returns {id: (status, reason)} as SPAR answered each one
    ("succ", or "rjct" with its reason). SparError when the request as a whole failed."""
    if not items:
        return {}
    body, references = link_request(sender_id, items)
    url = mapper_url.rstrip("/") + "/sync/link"
    response, answer = post_signed(url, body, private_key_pem, timeout)
    if response.status_code != 200 or not isinstance(answer, dict):
        raise SparError(f"SPAR at {url} answered HTTP {response.status_code}: {response.text[:300]}")
    responses = (answer.get("message") or {}).get("link_response") or []
    outcome = {}
    for row in responses:
        person = references.get(row.get("reference_id"))
        if person is not None:
            outcome[person] = (row.get("status"), row.get("reason_message") or row.get("reason_code") or "")
    if not outcome:
        header = answer.get("header") or {}
        reason = f"{header.get('status')} {header.get('status_reason_message') or ''}".strip()
        raise SparError(f"SPAR refused the link: {reason}")
    return outcome
