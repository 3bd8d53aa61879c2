"""The Daraja HTTP client: token, B2C submit, status and balance queries, reversal.

Every call returns a :class:`SubmitOutcome` that says what the caller may do next. The key
distinction is between TRANSIENT (provably not processed: send again with the same
OriginatorConversationID) and UNKNOWN (maybe processed: ask with a status query first). When in
doubt the client answers UNKNOWN, because an unnecessary status query costs a second and a wrong
TRANSIENT can pay a beneficiary twice.
"""

import base64
import json
import logging
import threading

import requests
import requests.auth

from ..amounts import to_whole_units
from ..errors import InvalidMsisdn
from ..http import BearerAuth, CredentialRefused, PooledClient, json_body, retry_after, send
from ..messages import B2CRequest, ReversalRequest
from ..outcomes import OutcomeKind, SubmitOutcome
from ..token_cache import TokenCache
from .config import DarajaConfig
from .credential import security_credential as _encrypt_credential
from .errors import DarajaAuthError, DarajaTokenUnavailable
from .payloads import reversal_payload

_logger = logging.getLogger(__name__)


TOKEN_ERROR_CODES = frozenset({"404.001.03", "401.002.01"})
BAD_CREDENTIALS_CODE = "400.008.01"
SPIKE_ARREST_CODE = "500.003.02"
QUOTA_CODE = "500.003.03"
DUPLICATE_CODE = "500.002.1001"
# Waits used when M-Pesa throttles without a Retry-After header.
SPIKE_ARREST_RETRY_AFTER = 1.0
QUOTA_RETRY_AFTER = 60.0
# Answers that mean "too many requests": whoever shares the throttle pauses, not just this call.
THROTTLED_CODES = frozenset({SPIKE_ARREST_CODE, QUOTA_CODE, "http_429"})
MAX_TOKEN_LIFETIME = 24 * 3600.0


class _BasicAuth(requests.auth.AuthBase):
    """HTTP Basic with UTF-8 credentials (requests 2.25 encodes str credentials as latin-1)."""

    def __init__(self, username: str, password: str):
        self._value = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    def __call__(self, request):
        request.headers["Authorization"] = f"Basic {self._value}"
        return request


class DarajaClient(PooledClient):
    """A thread-safe client of one Daraja app (see :class:`~mpesa_wire.http.PooledClient`). Every API
    request (B2C, status, balance; not the token) first takes a slot from ``throttle``, and a
    spike arrest or quota answer pauses it.
    """

    label = "Daraja"
    throttled_codes = THROTTLED_CODES
    throttled_retry_after = SPIKE_ARREST_RETRY_AFTER

    def __init__(self, config: DarajaConfig, session: requests.Session | None = None, **options):
        super().__init__(config, session, TokenCache.key_for(config.base_url, config.consumer_key), **options)
        self._credential: str | None = None
        self._credential_lock = threading.Lock()

    def __repr__(self):
        return f"<DarajaClient {self.config.base_url} shortcode={self.config.shortcode}>"

    # --- token and credential ----------------------------------------------------------------

    def token(self) -> str:
        """A valid access token (cached). Raises DarajaAuthError or DarajaTokenUnavailable."""
        return self.token_cache.get(self._token_key, self._fetch_token)

    def _fetch_token(self) -> tuple[str, float]:
        url = self.config.base_url + self.config.token_path
        try:
            response = self.session.get(
                url,
                params={"grant_type": "client_credentials"},
                auth=_BasicAuth(self.config.consumer_key, self.config.consumer_secret),
                headers={"Accept": "application/json"},
                timeout=self.config.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DarajaTokenUnavailable(f"Token request failed: {type(exc).__name__}: {exc}") from None
        body = json_body(response)
        if response.status_code in (400, 401, 403):
            code = body.get("errorCode") or f"http_{response.status_code}"
            message = body.get("errorMessage") or "credentials refused"
            _logger.error(
                "Daraja refused the consumer key/secret of %s: %s %s", self.config.base_url, code, message
            )
            raise DarajaAuthError(f"Daraja refused the consumer key/secret ({code}: {message})")
        if response.status_code != 200:
            raise DarajaTokenUnavailable(f"Token request answered HTTP {response.status_code}")
        token = body.get("access_token")
        try:
            lifetime = float(body.get("expires_in"))
        except (TypeError, ValueError):
            lifetime = -1.0
        if not isinstance(token, str) or not token or not lifetime > 0:
            raise DarajaTokenUnavailable("Token answer has no access_token/expires_in")
        # An absurd lifetime ("inf", years) must not pin a token the server revoked long ago.
        lifetime = min(lifetime, MAX_TOKEN_LIFETIME)
        _logger.debug("New Daraja token for %s, valid %ss", self.config.base_url, lifetime)
        return token, lifetime

    def security_credential(self) -> str:
        """The encrypted initiator password, computed once per client (RSA is not free)."""
        with self._credential_lock:
            if self._credential is None:
                self._credential = _encrypt_credential(
                    self.config.initiator_password, self.config.certificate
                )
            return self._credential

    # --- API calls -----------------------------------------------------------------------------

    def b2c_submit(self, req: B2CRequest) -> SubmitOutcome:
        """Send one B2C payment request. ACCEPTED means queued, never paid."""
        # Limits are the app's: refuse before sending rather than let M-Pesa fail it later.
        to_whole_units(req.amount, min_amount=self.config.min_amount, max_amount=self.config.max_amount)
        plan = self.config.number_plan
        if not (
            req.msisdn.startswith(str(plan.country_code))
            and len(req.msisdn) == len(str(plan.country_code)) + plan.national_length
        ):
            raise InvalidMsisdn(
                f"msisdn {req.msisdn!r} is not a number of M-Pesa {plan.market} (+{plan.country_code})",
                f"not_{plan.adjective.lower()}",
            )
        payload = {
            "OriginatorConversationID": req.originator_conversation_id,
            "InitiatorName": self.config.initiator_name,
            "SecurityCredential": self.security_credential(),
            "CommandID": req.command_id,
            "Amount": req.amount,
            "PartyA": self.config.shortcode,
            "PartyB": req.msisdn,
            "Remarks": req.remarks,
            "QueueTimeOutURL": req.timeout_url,
            "ResultURL": req.result_url,
        }
        if req.occasion:
            payload["Occassion"] = req.occasion  # sic: Daraja's spelling
        path = self.config.b2c_path
        if req.validated:
            if not self.config.b2c_validated_path:
                raise ValueError("this market's M-Pesa has no ID-validated B2C")
            path = self.config.b2c_validated_path
            payload["IDType"] = req.id_type
            payload["IDNumber"] = str(req.id_number).strip()
        return self._call(path, payload, req.originator_conversation_id)

    def transaction_status(
        self,
        *,
        originator_conversation_id: str | None = None,
        receipt: str | None = None,
        result_url: str,
        timeout_url: str,
        remarks: str = "Status",
    ) -> SubmitOutcome:
        """Ask for the outcome of a transaction by its OriginatorConversationID and/or receipt."""
        if not originator_conversation_id and not receipt:
            raise ValueError("transaction_status needs originator_conversation_id or receipt")
        payload = {
            "Initiator": self.config.initiator_name,
            "SecurityCredential": self.security_credential(),
            "CommandID": "TransactionStatusQuery",
            "PartyA": self.config.shortcode,
            "IdentifierType": "4",
            "ResultURL": result_url,
            "QueueTimeOutURL": timeout_url,
            "Remarks": remarks,
            "Occasion": "",
        }
        if receipt:
            payload["TransactionID"] = receipt
        if originator_conversation_id:
            payload["OriginalConversationID"] = originator_conversation_id
        return self._call(self.config.status_path, payload, None)

    def account_balance(
        self, *, result_url: str, timeout_url: str, remarks: str = "Balance"
    ) -> SubmitOutcome:
        payload = {
            "Initiator": self.config.initiator_name,
            "SecurityCredential": self.security_credential(),
            "CommandID": "AccountBalance",
            "PartyA": self.config.shortcode,
            "IdentifierType": "4",
            "Remarks": remarks,
            "QueueTimeOutURL": timeout_url,
            "ResultURL": result_url,
        }
        return self._call(self.config.balance_path, payload, None)

    def reverse(self, req: ReversalRequest) -> SubmitOutcome:
        """Ask M-Pesa to reverse a transaction. ACCEPTED means queued, never reversed: the result
        comes to ``req.result_url``. The acknowledgement's OriginatorConversationID is M-Pesa's
        (the request carries none). Sending the same reversal again is refused by M-Pesa with
        R000001 "already reversed" once the first went through, so it cannot move money twice.
        """
        payload = reversal_payload(
            initiator=self.config.initiator_name,
            security_credential=self.security_credential(),
            receipt=req.receipt,
            amount=req.amount,
            receiver_party=self.config.shortcode,
            receiver_identifier_type=self.config.reversal_identifier_type,
            result_url=req.result_url,
            timeout_url=req.timeout_url,
            remarks=req.remarks,
            occasion=req.occasion,
        )
        return self._call(self.config.reversal_path, payload, None)

    # --- plumbing ------------------------------------------------------------------------------

    def _call(self, path: str, payload: dict, ocid: str | None) -> SubmitOutcome:
        return self._exchange(path, ocid, lambda token: self._post(path, payload, token, ocid))

    def _post(self, path: str, payload: dict, token: str, ocid: str | None) -> SubmitOutcome:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        response = send(
            self.session,
            "POST",
            self.config.base_url + path,
            data=json.dumps(payload),
            headers=headers,
            auth=BearerAuth(token),
            timeout=self.config.timeout,
        )
        if isinstance(response, SubmitOutcome):
            return response
        return self._classify(response, ocid)

    def _classify(self, response: requests.Response, ocid: str | None) -> SubmitOutcome:
        status = response.status_code
        body = json_body(response)
        error_code = str(body.get("errorCode") or "").strip()
        message = str(body.get("errorMessage") or body.get("ResponseDescription") or "")
        common = {"http_status": status, "request_id": body.get("requestId")}

        if error_code in TOKEN_ERROR_CODES or (status == 401 and not error_code):
            raise CredentialRefused(
                SubmitOutcome(
                    OutcomeKind.REJECTED,
                    code="token",
                    message=f"Access token refused twice ({error_code or 'HTTP 401'}: {message})",
                    http_status=status,
                )
            )
        if error_code == BAD_CREDENTIALS_CODE:
            raise DarajaAuthError(f"Daraja refused the consumer key/secret ({error_code}: {message})")
        if error_code == SPIKE_ARREST_CODE:
            return SubmitOutcome(
                OutcomeKind.TRANSIENT,
                code=error_code,
                message=message,
                retry_after=retry_after(response, SPIKE_ARREST_RETRY_AFTER),
                **common,
            )
        if error_code == QUOTA_CODE:
            return SubmitOutcome(
                OutcomeKind.TRANSIENT,
                code=error_code,
                message=message,
                retry_after=retry_after(response, QUOTA_RETRY_AFTER),
                **common,
            )
        if error_code == DUPLICATE_CODE:
            # The id was received before: that earlier request may well have been paid.
            return SubmitOutcome(OutcomeKind.UNKNOWN, code=error_code, message=message, **common)

        if status == 200 and "ResponseCode" in body:
            response_code = str(body["ResponseCode"]).strip()
            echoed = body.get("OriginatorConversationID")
            common["originator_conversation_id"] = echoed
            if response_code != "0":
                return SubmitOutcome(OutcomeKind.REJECTED, code=response_code, message=message, **common)
            conversation_id = body.get("ConversationID")
            if not conversation_id:
                return SubmitOutcome(
                    OutcomeKind.UNKNOWN,
                    code="bad_response",
                    message="ResponseCode 0 without a ConversationID",
                    **common,
                )
            if ocid and echoed and echoed != ocid:
                return SubmitOutcome(
                    OutcomeKind.UNKNOWN,
                    code="bad_response",
                    message=f"Acknowledgement echoes another OriginatorConversationID ({echoed})",
                    conversation_id=conversation_id,
                    **common,
                )
            return SubmitOutcome(
                OutcomeKind.ACCEPTED,
                conversation_id=str(conversation_id),
                code="0",
                message=message,
                **common,
            )
        if 200 <= status < 300:
            # Something answered success in a shape that is not Daraja's: it may have queued it.
            return SubmitOutcome(
                OutcomeKind.UNKNOWN,
                code="bad_response",
                message=f"Unrecognised HTTP {status} answer",
                **common,
            )
        if status == 429:
            return SubmitOutcome(
                OutcomeKind.TRANSIENT,
                code=error_code or "http_429",
                message=message,
                retry_after=retry_after(response, SPIKE_ARREST_RETRY_AFTER),
                **common,
            )
        if status == 408 or status >= 500:
            return SubmitOutcome(
                OutcomeKind.UNKNOWN, code=error_code or f"http_{status}", message=message, **common
            )
        # Other 3xx/4xx: refused by the API before processing (bad field, wrong URL).
        return SubmitOutcome(
            OutcomeKind.REJECTED,
            code=error_code or f"http_{status}",
            message=message or response.reason or "",
            **common,
        )
