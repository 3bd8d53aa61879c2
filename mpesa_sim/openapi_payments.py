"""Vodacom's M-Pesa OpenAPI rules (Tanzania, DR Congo, Lesotho, Ghana, Mozambique) on the simulator's
ledger.

Sessions (getSession), request validation with the PORTAL's regexes, the OpenAPI's INS codes, its
result callback and status answer. What it does alike with Vodacom Mozambique's own API (deciding,
settling, sync and async processing, status lookups) is vodacom.py's, with this API's codes. Facts
and their sources: docs/markets/vodacom-openapi.md; what it did not find is the simulator's
choice, said here and in the market's ``notes``.

Rows in ``transactions``: kind b2c or reversal, api openapi_b2c or openapi_reversal, the caller's
input_ThirdPartyConversationID in ``originator_conversation_id`` (so it is unique: a second
request with it is 409 INS-10 whatever the first one's outcome), the OpenAPI ConversationID in
``conversation_id``, result codes as INS codes.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from mpesa_sim import families, vodacom
from mpesa_sim.vodacom import SUCCESS, TRANSACTION_STATUS, amount_cents, new_conversation_id

if TYPE_CHECKING:
    from mpesa_sim.state import Simulator

# code -> (HTTP status, output_ResponseDesc): the PORTAL's tables (vodacom-openapi.md 3-6 [H]).
# INS-0 is 201 on B2C and reversal, 200 on getSession and the status query.
CODES = {
    "INS-0": (201, "Request processed successfully"),
    "INS-1": (400, "Internal Error"),
    "INS-6": (401, "Transaction Failed"),
    "INS-9": (408, "Request timeout"),
    "INS-10": (409, "Duplicate Transaction"),
    "INS-13": (400, "Invalid Shortcode Used"),
    "INS-15": (400, "Invalid Amount Used"),
    "INS-17": (400, "Invalid Transaction Reference. Length Should Be Between 1 and 20."),
    "INS-18": (400, "Invalid TransactionID Used"),
    "INS-20": (400, "Not All Parameters Provided. Please try again."),
    "INS-21": (400, "Parameter validations failed. Please try again."),
    "INS-23": (400, "Transaction not found. Contact M-Pesa Support"),
    "INS-26": (400, "Invalid Currency Used"),
    "INS-28": (400, "Invalid ThirdPartyConversationID Used"),
    "INS-31": (400, "Invalid Payment Items Description Used"),
    "INS-35": (400, "This transaction do not belong to you"),
    "INS-989": (400, "Session Creation Failed"),
    "INS-990": (400, "Customer Transaction Value Limit Breached"),
    "INS-998": (400, "Invalid Market"),
    "INS-2006": (422, "Insufficient balance"),
    "INS-2051": (400, "MSISDN invalid."),
}
# The listener's expected reply to a result callback (PORTAL [H]); the simulator only checks
# that the answer is a 2xx, as it does for Daraja's callbacks.
LISTENER_REPLY = ("output_OriginalConversationID", "0", "Successfully Accepted Result")

# The PORTAL's parameter regexes (vodacom-openapi.md 3-5 [H]); \w as Java reads it (ASCII).
CURRENCY = re.compile(r"[a-zA-Z]{1,3}")
SERVICE_PROVIDER_CODE = re.compile(r"[0-9A-Za-z]{4,12}")
TRANSACTION_REFERENCE = re.compile(r"[0-9a-zA-Z \w+]{1,20}", re.ASCII)
THIRD_PARTY_CONVERSATION_ID = re.compile(r"[0-9a-zA-Z \w+]{1,40}", re.ASCII)
PAYMENT_ITEMS_DESC = re.compile(r"[0-9a-zA-Z \w+]{1,256}", re.ASCII)
TRANSACTION_ID = re.compile(r"[0-9a-zA-Z]{1,20}")
QUERY_REFERENCE = re.compile(r"[A-Za-z0-9]{10,20}|[A-Za-z0-9]{1,9}|[A-Za-z0-9]{21,32}")

B2C_API = "openapi_b2c"
REVERSAL_API = "openapi_reversal"


# A refusal answered synchronously (vodacom.py's, shared with Mozambique's API).
OpenApiError = vodacom.InsError


# -- sessions -----------------------------------------------------------------------------------
class Sessions:
    """SessionIDs: live ``openapi_session_delay_seconds`` after getSession, until
    ``openapi_session_lifetime_seconds`` after it (both read when the session is made)."""

    def __init__(self, db, config: dict):
        self._db = db
        self._config = config
        self._cache: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def create(self) -> str:
        now = time.time()
        session_id = new_conversation_id()
        live = now + float(self._config["openapi_session_delay_seconds"])
        expires = now + float(self._config["openapi_session_lifetime_seconds"])
        with self._db.write() as conn:
            conn.execute("DELETE FROM openapi_sessions WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO openapi_sessions(session_id, created_at, live_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (session_id, now, live, expires),
            )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            self._cache[session_id] = (live, expires)
        return session_id

    def state(self, session_id: str | None) -> str:
        """live, pending (not yet live), expired or unknown."""
        if not session_id:
            return "unknown"
        with self._lock:
            times = self._cache.get(session_id)
        if times is None:
            row = self._db.one(
                "SELECT live_at, expires_at FROM openapi_sessions WHERE session_id = ?", (session_id,)
            )
            if row is None:
                return "unknown"
            times = (row["live_at"], row["expires_at"])
            with self._lock:
                self._cache[session_id] = times
        now = time.time()
        if now >= times[1]:
            return "expired"
        return "live" if now >= times[0] else "pending"


# -- validation ---------------------------------------------------------------------------------
_values = vodacom.values
_check = vodacom.check


def _market_fields(sim: Simulator, values: dict) -> None:
    if values["input_Country"] != sim.market.openapi["country"]:
        raise OpenApiError("INS-998")
    if "input_Currency" in values:
        currency = _check(values["input_Currency"], CURRENCY, "INS-26")
        if currency != sim.market.currency:
            raise OpenApiError("INS-26")
    spc = _check(values["input_ServiceProviderCode"], SERVICE_PROVIDER_CODE, "INS-13")
    if spc != sim.org["shortcode"]:
        raise OpenApiError("INS-13")
    _check(values["input_ThirdPartyConversationID"], THIRD_PARTY_CONVERSATION_ID, "INS-28")


B2C_FIELDS = {  # name -> its code when invalid, in the order checked
    "input_Country": "INS-998",
    "input_Currency": "INS-26",
    "input_ServiceProviderCode": "INS-13",
    "input_ThirdPartyConversationID": "INS-28",
    "input_TransactionReference": "INS-17",
    "input_PaymentItemsDesc": "INS-31",
    "input_Amount": "INS-15",
    "input_CustomerMSISDN": "INS-2051",
}
REVERSAL_FIELDS = {
    "input_Country": "INS-998",
    "input_ServiceProviderCode": "INS-13",
    "input_ThirdPartyConversationID": "INS-28",
    "input_TransactionID": "INS-18",
    "input_ReversalAmount": "INS-15",
}
QUERY_FIELDS = {
    "input_Country": "INS-998",
    "input_ServiceProviderCode": "INS-13",
    "input_ThirdPartyConversationID": "INS-28",
    "input_QueryReference": "INS-21",
}


def validate_b2c(sim: Simulator, body: Any) -> dict:
    """The request's parameters (what the PORTAL's regexes and the market check); OpenApiError
    for the first problem. Business rules (number plan, registration, limits, float) come later."""
    if not isinstance(body, dict):
        raise OpenApiError("INS-21")
    values = _values(body, B2C_FIELDS)
    _market_fields(sim, values)
    _check(values["input_TransactionReference"], TRANSACTION_REFERENCE, "INS-17")
    _check(values["input_PaymentItemsDesc"], PAYMENT_ITEMS_DESC, "INS-31")
    cents = amount_cents(values["input_Amount"])
    _check(values["input_CustomerMSISDN"], re.compile(sim.market.openapi["msisdn"]), "INS-2051")
    return {**values, "amount_cents": cents}


def validate_reversal(sim: Simulator, body: Any) -> dict:
    if not isinstance(body, dict):
        raise OpenApiError("INS-21")
    values = _values(body, REVERSAL_FIELDS, optional=("input_ReversalAmount",))
    _market_fields(sim, values)
    _check(values["input_TransactionID"], TRANSACTION_ID, "INS-18")
    amount = values["input_ReversalAmount"]
    return {**values, "amount_cents": None if amount is None else amount_cents(amount)}


def validate_query(sim: Simulator, params: dict) -> dict:
    values = _values(params, QUERY_FIELDS)
    _market_fields(sim, values)
    _check(values["input_QueryReference"], QUERY_REFERENCE, "INS-21")
    return values


# -- B2C and reversal ---------------------------------------------------------------------------
def result_callback(row: sqlite3.Row | dict) -> dict:
    """What the OpenAPI posts to the application's Response URL (PORTAL [H]); a failure carries
    its INS code and an empty TransactionID (the simulator's choice: no sample of one is public)."""
    return {
        "input_OriginalConversationID": row["conversation_id"],
        "input_TransactionID": row["receipt"] or "",
        "input_ResultCode": row["result_code"],
        "input_ResultDesc": row["result_desc"],
        "input_ThirdPartyConversationID": row["originator_conversation_id"],
    }


# The OpenAPI's code for each reason a payment or a reversal fails (vodacom.py's conditions).
OPENAPI = vodacom.InsApi(
    name="openapi",
    b2c_api=B2C_API,
    reversal_api=REVERSAL_API,
    codes=CODES,
    conditions={
        "not_mobile": "INS-2051",  # not the market's M-Pesa number plan
        "amount": "INS-15",
        # No inactive-account code in the OpenAPI tables: an unknown, unregistered or frozen
        # account cannot receive, so it is answered as an invalid MSISDN (the simulator's choice).
        "unknown": "INS-2051",
        "unregistered": "INS-2051",
        "inactive": "INS-2051",
        "float": "INS-2006",
        "limit": "INS-990",  # either of the recipient's limits: the customer value limit
        "not_found": "INS-23",
        "not_yours": "INS-35",
        "reversed": "INS-10",
        "funds": "INS-2006",
    },
    result_callback=result_callback,
)


def _input(req: dict) -> dict:
    return {k: v for k, v in req.items() if k.startswith("input_")}


def b2c_fields(req: dict, callback_url: str) -> dict:
    """The transaction row of a validated B2C request, pending."""
    return OPENAPI.b2c_row(
        req["input_CustomerMSISDN"],
        req["amount_cents"],
        req["input_ThirdPartyConversationID"],
        _input(req),
        callback_url,
    )


def reversal_fields(conn: sqlite3.Connection, req: dict, callback_url: str) -> dict:
    """The transaction row of a validated reversal, pending."""
    return OPENAPI.reversal_row(
        conn,
        req["input_TransactionID"],
        req["amount_cents"],
        req["input_ThirdPartyConversationID"],
        _input(req),
        callback_url,
    )


# -- status -------------------------------------------------------------------------------------
def status_answer(row: sqlite3.Row, query_tpcid: str) -> dict:
    """The query's answer about a found transaction. A reversed payment is still Completed, with
    output_Reversed True."""
    return {
        "output_ResponseCode": SUCCESS,
        "output_ResponseDesc": CODES[SUCCESS][1],
        "output_ResponseTransactionStatus": TRANSACTION_STATUS[row["status"]],
        "output_ConversationID": row["conversation_id"],
        "output_ThirdPartyConversationID": query_tpcid,
        "output_OriginalTransactionID": row["receipt"] or "",
        "output_Reversed": "True" if row["reversed_by"] else "False",
    }


# -- registration -------------------------------------------------------------------------------
def sessions(sim: Simulator) -> Sessions:
    """This simulator's sessions (made at start by the family's hook)."""
    return sim.family_state["openapi"]


def _start(sim: Simulator) -> Sessions:
    return Sessions(sim.db, sim.config)


def settings(sim: Simulator) -> dict:
    """What an OpenAPI client is configured with (/sim/admin/info's ``openapi``)."""
    return {
        "api_key": sim.openapi["api_key"],
        "public_key": sim.openapi["public_key"],
        "service_provider_code": sim.org["shortcode"],
        "market_context": sim.market.openapi["context"],
        "country": sim.market.openapi["country"],
        "currency": sim.market.currency,
        "path_prefix": sim.market.openapi["path_prefix"],
    }


# Vodacom's OpenAPI markets (Tanzania, DR Congo, Lesotho, Ghana, Mozambique).
families.register(
    families.Family(
        name="openapi",
        serves=lambda market: market.is_openapi,
        resume={B2C_API: OPENAPI.process, REVERSAL_API: OPENAPI.process},
        start=_start,
        info=settings,
    )
)
