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
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from .http import retry_after
from .outcomes import OutcomeKind, ResultClass, ReversalClass, SubmitOutcome
from .results import ReversalResult

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


# --- the INS code tables: how each Vodacom API's answers and results are read ------------------


def normalise_code(code) -> str:
    return str(code if code is not None else "").strip().upper()


@dataclass(frozen=True)
class InsTable:
    """One Vodacom API's code table: its success and duplicate codes, the codes that say nothing
    of the outcome, its descriptions, and the answer field that echoes our idempotency key."""

    name: str  # in an unknown code's description: "M-Pesa OpenAPI code INS-77"
    descriptions: Mapping[str, str]
    unknown_codes: frozenset
    reference_field: str
    success: str = "INS-0"
    duplicate: str = "INS-10"

    def describe(self, code) -> str:
        code = normalise_code(code)
        return self.descriptions.get(code, f"{self.name} code {code or '(none)'}")

    def classify_result(self, code) -> ResultClass:
        """The final result of a B2C payment (the answer, or a result posted to the listener)."""
        code = normalise_code(code)
        if code == self.success:
            return ResultClass.PAID
        if code in self.unknown_codes:
            # Not a failure: the status query settles it, and only then may it be sent again.
            return ResultClass.TRANSIENT
        return ResultClass.FAILED

    def classify_reversal(self, code) -> ReversalClass:
        code = normalise_code(code)
        if code == self.success:
            return ReversalClass.REVERSED
        if code == self.duplicate:
            # Reversed before, or this request received before: proof of nothing on its own.
            return ReversalClass.ALREADY_REVERSED
        if code in self.unknown_codes:
            return ReversalClass.TRANSIENT
        return ReversalClass.FAILED

    def classify_answer(self, response, body: dict, retry_after_default: float) -> SubmitOutcome:
        """An answer (any HTTP status) in the outcome classes: 429 TRANSIENT; a 2xx with the
        success code ACCEPTED, any other 2xx UNKNOWN (it may have been done); a 5xx, a 408 or an
        unknown code UNKNOWN; every other code REJECTED."""
        status = response.status_code
        code = normalise_code(body.get("output_ResponseCode"))
        message = str(body.get("output_ResponseDesc") or (self.describe(code) if code else ""))
        common = {
            "http_status": status,
            "conversation_id": body.get("output_ConversationID") or None,
            "originator_conversation_id": body.get(self.reference_field) or None,
            "request_id": body.get("output_TransactionID") or None,
            "raw": body or None,
        }
        if status == 429:
            return SubmitOutcome(
                OutcomeKind.TRANSIENT,
                code="http_429",
                message=message or "too many requests",
                retry_after=retry_after(response, retry_after_default),
                **common,
            )
        if 200 <= status < 300:
            if code == self.success:
                return SubmitOutcome(OutcomeKind.ACCEPTED, code=code, message=message, **common)
            return SubmitOutcome(OutcomeKind.UNKNOWN, code=code or "bad_response", message=message, **common)
        if status >= 500 or status == 408 or code in self.unknown_codes:
            return SubmitOutcome(
                OutcomeKind.UNKNOWN, code=code or f"http_{status}", message=message, **common
            )
        return SubmitOutcome(OutcomeKind.REJECTED, code=code or f"http_{status}", message=message, **common)

    def reversal_result(self, body: dict, reference: str, req) -> ReversalResult:
        """A reversal answered in the response: a success (output_TransactionID) or a refusal."""
        code = normalise_code(body.get("output_ResponseCode"))
        return ReversalResult(
            originator_conversation_id=body.get(self.reference_field) or reference,
            conversation_id=body.get("output_ConversationID") or None,
            result_type="synchronous",
            result_code=code,
            result_desc=str(body.get("output_ResponseDesc") or self.describe(code)),
            transaction_id=body.get("output_TransactionID") or None,
            original_transaction_id=req.receipt,
            amount_cents=req.amount * 100 if code == self.success else None,
            parameters=dict(body),
            success_code=self.success,
        )

    def with_reversal_result(self, outcome: SubmitOutcome, reference: str, req) -> SubmitOutcome:
        """The reversal's outcome holding its result where the answer is one: reversed (the
        success code with a transaction id), refused, or a duplicate (reversed before)."""
        if outcome.raw is None or not outcome.code:
            return outcome
        final = outcome.accepted and outcome.request_id
        if final or outcome.kind is OutcomeKind.REJECTED or outcome.code == self.duplicate:
            return outcome.with_result(self.reversal_result(outcome.raw, reference, req))
        return outcome
