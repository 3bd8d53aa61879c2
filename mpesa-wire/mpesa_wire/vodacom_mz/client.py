"""The client of Vodacom Mozambique's own M-Pesa API: B2C, transaction status, reversal.

Built from public clients and copies of the portal's documentation (docs/markets/vodacom-openapi.md
section 8; the sources of each fact are there):

- no session: every call carries ``Authorization: Bearer base64(RSA-PKCS#1 v1.5(public key, API
  key))`` and an ``Origin`` header; the bearer is made once per client (``token``);
- B2C ``POST :18345/ipg/v1x/b2cPayment/``, status ``GET :18353/ipg/v1x/queryTransactionStatus/``
  with query parameters, reversal ``PUT :18354/ipg/v1x/reversal/``;
- ``input_ThirdPartyReference`` is our idempotency key: the caller reserves and commits it
  before the call, and M-Pesa answers a resend under it INS-10, never a second payment;
- **synchronous**: the request names no result URL, and every public client reads the outcome
  from the answer (paymentsds ``Response``, abdulmueid ``TransactionResponse``): an INS-0 answer
  with ``output_TransactionID`` is the final result. An unknown answer (INS-1, INS-9, INS-10,
  INS-16, an empty code, a 5xx, a lost connection) is settled by queryTransactionStatus.
"""

import json
import logging
import re
import uuid

from .. import vodacom
from ..amounts import to_whole_units
from ..errors import AuthError, InvalidMsisdn, WireError
from ..http import BearerAuth, PooledClient, json_body, send
from ..messages import B2CRequest, ReversalRequest
from ..outcomes import OutcomeKind, SubmitOutcome
from ..token_cache import TokenCache
from . import codes
from .config import VodacomMzConfig
from .payloads import b2c_result, status_result

_logger = logging.getLogger(__name__)

THROTTLED_RETRY_AFTER = 1.0
# A bearer is a ciphertext of the API key: it does not expire. Made again once a day.
BEARER_LIFETIME = 24 * 3600.0
# input_ThirdPartyReference as the public clients validate it (paymentsds WORD: \w+).
_REFERENCE = re.compile(r"[0-9A-Za-z]{1,40}")
# paymentsds' PHONE_NUMBER pattern, as the API takes it: 258 8[45] and seven digits.
_MSISDN = re.compile(r"2588[45][0-9]{7}")


class VodacomMzError(WireError):
    """Base class of the errors raised while talking to Vodacom Mozambique's M-Pesa API."""


class VodacomMzAuthError(VodacomMzError, AuthError):
    """The API key, the public key, the initiator or its security credential is wrong."""


class VodacomMzClient(PooledClient):
    """A thread-safe client of one organisation (service provider code) on the API (see
    :class:`~mpesa_wire.http.PooledClient`)."""

    label = "M-Pesa Mozambique"
    throttled_retry_after = THROTTLED_RETRY_AFTER

    def __init__(self, config: VodacomMzConfig, session=None, **options):
        super().__init__(config, session, TokenCache.key_for(config.base_url, config.api_key), **options)

    def __repr__(self):
        return f"<VodacomMzClient {self.config.base_url} {self.config.service_provider_code}>"

    def token(self) -> str:
        """The bearer (the encrypted API key), made once. Raises VodacomMzAuthError when the public
        key cannot encrypt."""
        return self.token_cache.get(self._token_key, self._make_bearer)

    def _make_bearer(self) -> tuple[str, float]:
        try:
            return vodacom.encrypt(self.config.public_key, self.config.api_key), BEARER_LIFETIME
        except ValueError as exc:
            raise VodacomMzAuthError(f"the public key cannot encrypt: {exc}") from None

    # --- API calls -----------------------------------------------------------------------------

    def b2c_submit(self, req: B2CRequest) -> SubmitOutcome:
        """Send one B2C payment. ACCEPTED comes with ``result`` (the API answers synchronously)."""
        if req.validated:
            raise ValueError("Vodacom Mozambique's M-Pesa API has no ID-validated B2C")
        to_whole_units(
            req.amount,
            min_amount=self.config.min_amount,
            max_amount=self.config.max_amount,
            currency=self.config.currency,
        )
        self._check_msisdn(req.msisdn)
        self._check_reference(req.originator_conversation_id)
        payload = {
            "input_TransactionReference": vodacom.transaction_reference(req.originator_conversation_id),
            "input_CustomerMSISDN": req.msisdn,
            "input_Amount": str(req.amount),
            "input_ThirdPartyReference": req.originator_conversation_id,
            "input_ServiceProviderCode": self.config.service_provider_code,
        }
        outcome = self._call("POST", "b2c", req.originator_conversation_id, json_payload=payload)
        if outcome.accepted and outcome.request_id:
            outcome = outcome.with_result(b2c_result(outcome, req.originator_conversation_id))
        return outcome

    def transaction_status(
        self,
        *,
        originator_conversation_id: str | None = None,
        receipt: str | None = None,
        result_url: str = "",
        timeout_url: str = "",
        remarks: str = "Status",
    ) -> SubmitOutcome:
        """Ask for a transaction by its receipt or our ThirdPartyReference. The answer is
        synchronous: ``result`` holds it (a StatusResult) whenever M-Pesa answered the query."""
        del result_url, timeout_url, remarks
        reference = receipt or originator_conversation_id
        if not reference:
            raise ValueError("transaction_status needs originator_conversation_id or receipt")
        query_id = uuid.uuid4().hex
        params = {
            "input_QueryReference": reference,
            "input_ServiceProviderCode": self.config.service_provider_code,
            "input_ThirdPartyReference": query_id,
        }
        outcome = self._call("GET", "query", query_id, params=params)
        if outcome.code in (codes.SUCCESS, codes.UNKNOWN_STATUS) and outcome.raw is not None:
            result = status_result(outcome.raw, query_id, originator_conversation_id or reference)
            outcome = SubmitOutcome(
                OutcomeKind.ACCEPTED,
                conversation_id=outcome.conversation_id,
                code=outcome.code,
                message=outcome.message,
                http_status=outcome.http_status,
                originator_conversation_id=query_id,
                result=result,
            )
        return outcome

    def account_balance(self, *, result_url: str = "", timeout_url: str = "", remarks: str = "Balance"):
        """The API publishes no balance query: refused here, before any request."""
        del result_url, timeout_url, remarks
        return SubmitOutcome(
            OutcomeKind.REJECTED,
            code="unsupported",
            message="Vodacom Mozambique's M-Pesa API has no balance query",
        )

    def reverse(self, req: ReversalRequest) -> SubmitOutcome:
        """Reverse a transaction by its receipt, for its whole amount (PUT reversal)."""
        if not self.config.initiator_identifier or not self.config.security_credential:
            raise VodacomMzAuthError("a reversal needs the initiator identifier and its security credential")
        reference = req.reference or uuid.uuid4().hex
        self._check_reference(reference)
        payload = {
            "input_TransactionID": req.receipt,
            "input_SecurityCredential": self.config.security_credential,
            "input_InitiatorIdentifier": self.config.initiator_identifier,
            "input_ThirdPartyReference": reference,
            "input_ServiceProviderCode": self.config.service_provider_code,
            self.config.reversal_amount_field: str(req.amount),
        }
        outcome = self._call("PUT", "reversal", reference, json_payload=payload)
        return codes.TABLE.with_reversal_result(outcome, reference, req)

    # --- plumbing ------------------------------------------------------------------------------

    @staticmethod
    def _check_reference(reference: str) -> None:
        if not _REFERENCE.fullmatch(reference or ""):
            raise ValueError(
                f"ThirdPartyReference {reference!r} must be 1 to 40 letters and digits "
                "(make it with the family's new_conversation_id)"
            )

    def _check_msisdn(self, msisdn: str) -> None:
        if not _MSISDN.fullmatch(msisdn or ""):
            plan = self.config.number_plan
            where = f"M-Pesa {plan.market} (+{plan.country_code})" if plan else "M-Pesa Mozambique"
            raise InvalidMsisdn(f"msisdn {msisdn!r} is not a number of {where}", "not_mozambican")

    def _call(self, method: str, operation: str, reference: str, **request) -> SubmitOutcome:
        return self._exchange(
            f"{method} {operation}", reference, lambda bearer: self._send(method, operation, bearer, request)
        )

    def _send(self, method: str, operation: str, bearer: str, request: dict) -> SubmitOutcome:
        kwargs = {
            "headers": {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Origin": self.config.origin,
            },
            "timeout": self.config.timeout,
        }
        if "json_payload" in request:
            kwargs["data"] = json.dumps(request["json_payload"])
        if "params" in request:
            kwargs["params"] = request["params"]
        response = send(self.session, method, self.config.url(operation), auth=BearerAuth(bearer), **kwargs)
        if isinstance(response, SubmitOutcome):
            return response
        body = json_body(response)
        outcome = classify(response, body)
        if outcome.code in codes.CREDENTIAL_CODES:
            # Refused before anything moved; every retry with a wrong credential counts against it.
            raise VodacomMzAuthError(
                f"M-Pesa Mozambique refused the credentials: {outcome.code} {outcome.message}"
            )
        return outcome


def classify(response, body: dict) -> SubmitOutcome:
    return codes.TABLE.classify_answer(response, body, THROTTLED_RETRY_AFTER)


__all__ = ["VodacomMzAuthError", "VodacomMzClient", "VodacomMzError", "classify"]
