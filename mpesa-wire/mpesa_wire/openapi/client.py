"""The Vodacom M-Pesa OpenAPI client: session, B2C single stage, transaction status, reversal.

Built from the OpenAPI portal's documentation (docs/markets/vodacom-openapi.md):

- ``getSession`` (GET) with ``Authorization: Bearer base64(RSA-PKCS#1 v1.5(public key, API key))``;
  the session id is then encrypted again, the same way, for every call. A new session "can take
  up to 30 seconds to become live": the client waits ``session_delay_seconds`` before first use,
  once per session for all threads (the session is cached like a Daraja token).
- ``b2cPayment`` (POST), ``queryTransactionStatus`` (GET, query parameters), ``reversal`` (PUT).
- ``input_ThirdPartyConversationID`` is the caller's idempotency key: the addon reserves and
  commits it before the call (as the OriginatorConversationID on Daraja), and a resend under it is
  answered INS-10 by M-Pesa, never paid twice.
- B2C answers are synchronous or asynchronous "depending on the business use case", set on the
  application, not in the request. A synchronous success carries ``output_TransactionID``: the
  outcome then holds the final result (``SubmitOutcome.result``). Without it the result comes to
  the application's listener later, as on Daraja.

Sorting of answers (codes.py): INS-0 ACCEPTED; INS-9, INS-1, INS-10, a 5xx, an empty code, a read
timeout or a lost connection UNKNOWN (ask before anything else); a refused or expired session
(HTTP 401) is renewed and the request sent once more with the same ThirdPartyConversationID; a
connect error TRANSIENT; every other INS code REJECTED.
"""

import dataclasses
import json
import logging
import re
import time
import uuid

from .. import vodacom
from ..amounts import to_whole_units
from ..errors import AuthError, InvalidMsisdn, TokenUnavailable, WireError
from ..http import BearerAuth, CredentialRefused, PooledClient, json_body, send
from ..messages import B2CRequest, ReversalRequest
from ..outcomes import OutcomeKind, SubmitOutcome
from ..token_cache import TokenCache
from . import codes
from .config import OpenApiConfig
from .payloads import b2c_result, status_result

_logger = logging.getLogger(__name__)

THROTTLED_RETRY_AFTER = 1.0
# What the portal's regex for free text (input_PaymentItemsDesc) leaves out: sent as spaces.
_NOT_DESC = re.compile(r"[^0-9A-Za-z_ +]+")
# input_ThirdPartyConversationID as the portal's regex allows it (FAMILY.new_conversation_id).
_CONVERSATION_ID = re.compile(r"[0-9A-Za-z_ +]{1,40}")


class OpenApiError(WireError):
    """Base class of the errors raised while talking to the M-Pesa OpenAPI."""


class OpenApiAuthError(OpenApiError, AuthError):
    """getSession refused the API key (INS-989) or the public key: a misconfiguration."""


class OpenApiSessionUnavailable(OpenApiError, TokenUnavailable):
    """No session could be had for a reason that may pass (network, 5xx, bad body)."""


def encrypt(public_key: str, text: str) -> str:
    """base64(RSA PKCS#1 v1.5(public key, text)): the bearer of getSession and of every call."""
    try:
        return vodacom.encrypt(public_key, text)
    except ValueError as exc:
        raise OpenApiAuthError(f"the public key cannot encrypt: {exc}") from None


def payment_items_desc(text: str) -> str:
    """input_PaymentItemsDesc (1 to 256 of letters, digits, ``_``, ``+`` and spaces) from our
    remarks: "M-Pesa: cycle 1/2026" becomes "M Pesa cycle 1 2026"."""
    return " ".join(_NOT_DESC.sub(" ", text or "").split())[:256]


class OpenApiClient(PooledClient):
    """A thread-safe client of one OpenAPI application in one market (see
    :class:`~mpesa_wire.http.PooledClient`); ``sleep`` waits out a new session's activation delay."""

    label = "M-Pesa OpenAPI"
    throttled_retry_after = THROTTLED_RETRY_AFTER

    def __init__(self, config: OpenApiConfig, session=None, *, sleep=time.sleep, **options):
        super().__init__(
            config, session, TokenCache.key_for(config.url("getSession"), config.api_key), **options
        )
        self._sleep = sleep

    def __repr__(self):
        return f"<OpenApiClient {self.config.base_url} {self.config.market_context}>"

    # --- session -------------------------------------------------------------------------------

    def token(self) -> str:
        """A live session id (cached). Raises OpenApiAuthError or OpenApiSessionUnavailable."""
        return self.token_cache.get(self._token_key, self._fetch_session)

    def _headers(self) -> dict:
        return {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Origin": self.config.origin,
        }

    def _fetch_session(self) -> tuple[str, float]:
        response = send(
            self.session,
            "GET",
            self.config.url("getSession"),
            headers=self._headers(),
            auth=BearerAuth(encrypt(self.config.public_key, self.config.api_key)),
            timeout=self.config.timeout,
        )
        if isinstance(response, SubmitOutcome):
            raise OpenApiSessionUnavailable(f"getSession: {response.message}")
        body = json_body(response)
        code = codes.normalise_code(body.get("output_ResponseCode"))
        session_id = body.get("output_SessionID")
        if (
            response.status_code == 200
            and code == codes.SUCCESS
            and isinstance(session_id, str)
            and session_id
        ):
            # "SessionID can take up to 30 seconds to become 'live' ... invalid until it is."
            if self.config.session_delay_seconds:
                self._sleep(self.config.session_delay_seconds)
            return session_id, max(
                self.config.session_lifetime_seconds - self.config.session_delay_seconds, 1.0
            )
        if code == codes.SESSION_FAILED or response.status_code in (401, 403):
            raise OpenApiAuthError(
                f"getSession refused the API key: HTTP {response.status_code} {code} "
                f"{body.get('output_ResponseDesc') or ''}".strip()
            )
        raise OpenApiSessionUnavailable(f"getSession answered HTTP {response.status_code} {code}".strip())

    # --- API calls -----------------------------------------------------------------------------

    def b2c_submit(self, req: B2CRequest) -> SubmitOutcome:
        """Send one B2C payment. ACCEPTED with ``result`` is final (synchronous application);
        ACCEPTED without it means the result comes to the listener."""
        if req.validated:
            raise ValueError("the M-Pesa OpenAPI has no ID-validated B2C")
        to_whole_units(
            req.amount,
            min_amount=self.config.min_amount,
            max_amount=self.config.max_amount,
            currency=self.config.currency,
        )
        self._check_msisdn(req.msisdn)
        self._check_conversation_id(req.originator_conversation_id)
        payload = {
            "input_Amount": str(req.amount),
            "input_Country": self.config.country,
            "input_Currency": self.config.currency,
            "input_CustomerMSISDN": req.msisdn,
            "input_ServiceProviderCode": self.config.service_provider_code,
            "input_ThirdPartyConversationID": req.originator_conversation_id,
            "input_TransactionReference": vodacom.transaction_reference(req.originator_conversation_id),
            "input_PaymentItemsDesc": payment_items_desc(req.remarks) or self.config.payment_items_desc,
        }
        outcome = self._call("POST", "b2cPayment", req.originator_conversation_id, json_payload=payload)
        if outcome.accepted and outcome.result is None and outcome.request_id:
            # output_TransactionID: the payment is done (synchronous answer).
            outcome = outcome.with_result(
                b2c_result(outcome, req.originator_conversation_id, req.amount, req.msisdn)
            )
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
        """Ask for a transaction by its receipt or our ThirdPartyConversationID. The answer is
        synchronous: ``result`` holds it (a StatusResult) whenever M-Pesa answered the query."""
        del result_url, timeout_url, remarks  # the OpenAPI answers in the response
        reference = receipt or originator_conversation_id
        if not reference:
            raise ValueError("transaction_status needs originator_conversation_id or receipt")
        query_id = uuid.uuid4().hex
        params = {
            "input_QueryReference": reference,
            "input_ServiceProviderCode": self.config.service_provider_code,
            "input_ThirdPartyConversationID": query_id,
            "input_Country": self.config.country,
        }
        outcome = self._call("GET", "queryTransactionStatus", query_id, params=params)
        if outcome.code in (codes.SUCCESS, codes.NOT_FOUND) and outcome.raw is not None:
            result = status_result(outcome.raw, query_id, reference, originator_conversation_id)
            kind = OutcomeKind.ACCEPTED
            outcome = SubmitOutcome(
                kind,
                conversation_id=outcome.conversation_id,
                code=outcome.code,
                message=outcome.message,
                http_status=outcome.http_status,
                originator_conversation_id=query_id,
                result=result,
            )
        return outcome

    def account_balance(self, *, result_url: str = "", timeout_url: str = "", remarks: str = "Balance"):
        """The OpenAPI publishes no balance query: refused here, before any request."""
        del result_url, timeout_url, remarks
        return SubmitOutcome(
            OutcomeKind.REJECTED, code="unsupported", message="the M-Pesa OpenAPI has no balance query"
        )

    def reverse(self, req: ReversalRequest) -> SubmitOutcome:
        """Reverse a transaction by its receipt, for its whole amount (PUT reversal)."""
        conversation_id = req.reference or uuid.uuid4().hex
        self._check_conversation_id(conversation_id)
        payload = {
            "input_Country": self.config.country,
            "input_ReversalAmount": str(req.amount),
            "input_ServiceProviderCode": self.config.service_provider_code,
            "input_ThirdPartyConversationID": conversation_id,
            "input_TransactionID": req.receipt,
        }
        outcome = self._call("PUT", "reversal", conversation_id, json_payload=payload)
        return codes.TABLE.with_reversal_result(outcome, conversation_id, req)

    # --- plumbing ------------------------------------------------------------------------------

    @staticmethod
    def _check_conversation_id(conversation_id: str) -> None:
        if not _CONVERSATION_ID.fullmatch(conversation_id or ""):
            raise ValueError(
                f"ThirdPartyConversationID {conversation_id!r} must be 1 to 40 letters and digits "
                "(make it with the family's new_conversation_id)"
            )

    def _check_msisdn(self, msisdn: str) -> None:
        plan = self.config.number_plan
        if not re.fullmatch(self.config.msisdn_pattern, msisdn):
            raise InvalidMsisdn(f"msisdn {msisdn!r} is not a number the M-Pesa OpenAPI takes", "format")
        if plan and not (
            msisdn.startswith(str(plan.country_code))
            and len(msisdn) == len(str(plan.country_code)) + plan.national_length
        ):
            raise InvalidMsisdn(
                f"msisdn {msisdn!r} is not a number of M-Pesa {plan.market} (+{plan.country_code})",
                f"not_{plan.adjective.lower()}",
            )

    def _call(self, method: str, api: str, conversation_id: str, **request) -> SubmitOutcome:
        return self._exchange(
            f"{method} {api}", conversation_id, lambda session: self._send(method, api, session, request)
        )

    def _send(self, method: str, api: str, session_id: str, request: dict) -> SubmitOutcome:
        kwargs = {"headers": self._headers(), "timeout": self.config.timeout}
        if "json_payload" in request:
            kwargs["data"] = json.dumps(request["json_payload"])
        if "params" in request:
            kwargs["params"] = request["params"]
        response = send(
            self.session,
            method,
            self.config.url(api),
            auth=BearerAuth(encrypt(self.config.public_key, session_id)),
            **kwargs,
        )
        if isinstance(response, SubmitOutcome):
            return response
        body = json_body(response)
        if response.status_code == 401:
            # An unknown, expired or not yet live session, refused before processing.
            raise CredentialRefused(_classify(response, body, api))
        return _classify(response, body, api)


def _classify(response, body: dict, api: str) -> SubmitOutcome:
    outcome = codes.TABLE.classify_answer(response, body, THROTTLED_RETRY_AFTER)
    if api == "queryTransactionStatus" and outcome.code == codes.NOT_FOUND and not outcome.accepted:
        # "Transaction not found" answers the query: the request never reached M-Pesa.
        return dataclasses.replace(outcome, kind=OutcomeKind.ACCEPTED)
    return outcome


__all__ = [
    "OpenApiAuthError",
    "OpenApiClient",
    "OpenApiError",
    "OpenApiSessionUnavailable",
    "encrypt",
]
