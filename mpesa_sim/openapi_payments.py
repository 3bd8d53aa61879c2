"""Vodacom's M-Pesa OpenAPI rules (Tanzania, DR Congo, Lesotho, Ghana) on the simulator's ledger.

Sessions (getSession), request validation with the PORTAL's regexes, B2C and reversal decisions
and settlement, status lookups and the asynchronous result callbacks. The money moves exactly as
for Daraja (payments.py): one write transaction per transfer, the Utility account's journal, an
SMS to the wallet. Facts and their sources: docs/markets/vodacom-openapi.md; what it did not find
is the simulator's choice, said here and in the market's ``notes``.

Rows in ``transactions``: kind b2c or reversal, api openapi_b2c or openapi_reversal, the caller's
input_ThirdPartyConversationID in ``originator_conversation_id`` (so it is unique: a second
request with it is 409 INS-10 whatever the first one's outcome), the OpenAPI ConversationID in
``conversation_id``, result codes as INS codes.
"""

from __future__ import annotations

import decimal
import json
import re
import secrets
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from mpesa_sim import directory, families, ledger, receipts, sms
from mpesa_sim.shared import mark_silent, recipient_limit_breach

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
SUCCESS = "INS-0"
# The listener's expected reply to a result callback (PORTAL [H]); the simulator only checks
# that the answer is a 2xx, as it does for Daraja's callbacks.
LISTENER_REPLY = ("output_OriginalConversationID", "0", "Successfully Accepted Result")

# The PORTAL's parameter regexes (vodacom-openapi.md 3-5 [H]); \w as Java reads it (ASCII).
AMOUNT = re.compile(r"\d*\.?\d+")
CURRENCY = re.compile(r"[a-zA-Z]{1,3}")
SERVICE_PROVIDER_CODE = re.compile(r"[0-9A-Za-z]{4,12}")
TRANSACTION_REFERENCE = re.compile(r"[0-9a-zA-Z \w+]{1,20}", re.ASCII)
THIRD_PARTY_CONVERSATION_ID = re.compile(r"[0-9a-zA-Z \w+]{1,40}", re.ASCII)
PAYMENT_ITEMS_DESC = re.compile(r"[0-9a-zA-Z \w+]{1,256}", re.ASCII)
TRANSACTION_ID = re.compile(r"[0-9a-zA-Z]{1,20}")
QUERY_REFERENCE = re.compile(r"[A-Za-z0-9]{10,20}|[A-Za-z0-9]{1,9}|[A-Za-z0-9]{21,32}")

B2C_API = "openapi_b2c"
REVERSAL_API = "openapi_reversal"
APIS = (B2C_API, REVERSAL_API)


class OpenApiError(Exception):
    """A refusal answered synchronously: the INS code (its HTTP status and text are CODES')."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def new_conversation_id() -> str:
    """The OpenAPI's ConversationID (and SessionID): 32 hex digits, like the PORTAL's samples."""
    return secrets.token_hex(16)


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
def _values(body: dict, fields: dict[str, str], optional: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Each field as text; INS-20 when a mandatory one is missing or empty, the field's own code
    when it is no string or number."""
    values: dict[str, str | None] = {}
    missing = False
    for name, code in fields.items():
        value = body.get(name)
        if value is None or value == "":
            values[name] = None
            missing = missing or name not in optional
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise OpenApiError(code)
        else:
            values[name] = str(value)
    if missing:
        raise OpenApiError("INS-20")
    return values


def _check(value: str | None, pattern: re.Pattern, code: str) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise OpenApiError(code)
    return value


def amount_cents(text: str) -> int:
    """``^\\d*\\.?\\d+$`` in cents; INS-15 for more than two decimals or an absurd size."""
    _check(text, AMOUNT, "INS-15")
    try:
        cents = decimal.Decimal(text) * 100
    except decimal.InvalidOperation:
        raise OpenApiError("INS-15") from None
    if cents != cents.to_integral_value() or cents >= 10**14:
        raise OpenApiError("INS-15")
    return int(cents)


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


# -- B2C ----------------------------------------------------------------------------------------
def b2c_fields(req: dict, callback_url: str) -> dict:
    """The transaction row of a validated B2C request, pending."""
    msisdn = req["input_CustomerMSISDN"]
    return {
        "kind": "b2c",
        "api": B2C_API,
        "from_account": ledger.UTILITY,
        "to_account": directory.wallet_ref(msisdn),
        "party_b": msisdn,
        "amount_cents": req["amount_cents"],
        "originator_conversation_id": req["input_ThirdPartyConversationID"],
        "conversation_id": new_conversation_id(),
        "status": "pending",
        "request_json": {k: v for k, v in req.items() if k.startswith("input_")}
        | {"callback_url": callback_url},
    }


def decide_b2c(sim: Simulator, conn: sqlite3.Connection, row: sqlite3.Row) -> str | None:
    """The failing INS code for this payment, or None to pay."""
    msisdn, cents = row["party_b"], row["amount_cents"]
    if not directory.is_market_mobile(msisdn):
        return "INS-2051"  # not the market's M-Pesa number plan
    cfg = sim.config
    if not int(cfg["min_amount"]) * 100 <= cents <= int(cfg["max_amount"]) * 100:
        return "INS-15"
    wallet = conn.execute(
        "SELECT w.*, a.balance_cents FROM wallets w JOIN accounts a ON a.id = w.account_id WHERE msisdn = ?",
        (msisdn,),
    ).fetchone()
    # No inactive-account code in the OpenAPI tables: a frozen account cannot receive, so it is
    # answered as an invalid MSISDN (the simulator's choice).
    if wallet is None or not wallet["registered"] or wallet["status"] != "active":
        return "INS-2051"
    if ledger.balance(conn, ledger.UTILITY) < cents:
        return "INS-2006"
    # Either of the recipient's limits: the customer value limit (INS-990).
    return "INS-990" if recipient_limit_breach(conn, cfg, msisdn, wallet, cents) else None


def _fail(conn: sqlite3.Connection, txn_id: int, code: str, at: str) -> None:
    conn.execute(
        "UPDATE transactions SET status = 'failed', result_code = ?, result_desc = ?, finalised_at = ?"
        " WHERE id = ?",
        (code, CODES[code][1], at, txn_id),
    )


def settle_b2c(sim: Simulator, conn: sqlite3.Connection, txn_id: int) -> tuple[str, str | None]:
    """Decide and settle one pending B2C in the caller's write transaction: (INS code, receipt)."""
    row = conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone()
    moment = receipts.now()
    at = receipts.iso(moment)
    code = decide_b2c(sim, conn, row)
    if code is not None:
        _fail(conn, txn_id, code, at)
        return code, None
    wallet = directory.wallet_ref(row["party_b"])
    cents = row["amount_cents"]
    utility_after, wallet_after = ledger.move(conn, ledger.UTILITY, wallet, cents)
    receipt = ledger.assign_receipt(conn, txn_id)
    conn.execute(
        "UPDATE transactions SET status = 'completed', result_code = ?, result_desc = ?, finalised_at = ?"
        " WHERE id = ?",
        (SUCCESS, CODES[SUCCESS][1], at, txn_id),
    )
    ledger.journal(conn, txn_id, ledger.UTILITY, wallet, cents, utility_after, wallet_after, at)
    sms.send(
        conn,
        row["party_b"],
        sms.b2c_received(receipt, cents, sim.org["org_name"], moment, wallet_after),
    )
    return SUCCESS, receipt


# -- reversal -----------------------------------------------------------------------------------
def find_original(conn: sqlite3.Connection, receipt: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM transactions WHERE receipt = ?", (receipt,)).fetchone()


def reversal_fields(conn: sqlite3.Connection, req: dict, callback_url: str) -> dict:
    """The transaction row of a validated reversal, pending; who it would debit is the original's
    wallet (when there is one), decided again when it is processed."""
    original = find_original(conn, req["input_TransactionID"])
    reversible = original is not None and original["kind"] == "b2c"
    cents = req["amount_cents"]
    if cents is None:
        cents = original["amount_cents"] if reversible else 0
    return {
        "kind": "reversal",
        "api": REVERSAL_API,
        "from_account": original["to_account"] if reversible else "",
        "to_account": ledger.UTILITY,
        "party_b": original["party_b"] if reversible else None,
        "amount_cents": cents,
        "originator_conversation_id": req["input_ThirdPartyConversationID"],
        "conversation_id": new_conversation_id(),
        "status": "pending",
        "request_json": {k: v for k, v in req.items() if k.startswith("input_")}
        | {"callback_url": callback_url},
    }


def decide_reversal(conn: sqlite3.Connection, row: sqlite3.Row) -> tuple[str | None, sqlite3.Row | None]:
    """(failing INS code or None to reverse, the original payment)."""
    req = json.loads(row["request_json"])
    receipt = req["input_TransactionID"]
    original = find_original(conn, receipt)
    if original is None:
        if conn.execute("SELECT 1 FROM topups WHERE receipt = ?", (receipt,)).fetchone():
            return "INS-35", None  # a float top-up: no payment of the organisation's
        return "INS-23", None
    if original["kind"] != "b2c" or original["from_account"] != ledger.UTILITY:
        return "INS-35", None  # a customer's or another party's transaction, or a reversal
    if original["reversed_by"]:
        return "INS-10", original
    given = req.get("input_ReversalAmount")
    if given not in (None, "") and amount_cents(given) != original["amount_cents"]:
        return "INS-15", original  # partial (or larger) reversals are refused
    if ledger.balance(conn, original["to_account"]) < original["amount_cents"]:
        return "INS-2006", original  # the money is no longer in the customer's wallet
    return None, original


def settle_reversal(sim: Simulator, conn: sqlite3.Connection, txn_id: int) -> tuple[str, str | None]:
    row = conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone()
    moment = receipts.now()
    at = receipts.iso(moment)
    code, original = decide_reversal(conn, row)
    if code is not None:
        _fail(conn, txn_id, code, at)
        return code, None
    wallet, cents = original["to_account"], original["amount_cents"]
    wallet_after, utility_after = ledger.move(conn, wallet, ledger.UTILITY, cents)
    receipt = ledger.assign_receipt(conn, txn_id)
    conn.execute(
        "UPDATE transactions SET status = 'completed', result_code = ?, result_desc = ?, finalised_at = ?,"
        " from_account = ?, party_b = ?, amount_cents = ?, linked_receipt = ? WHERE id = ?",
        (SUCCESS, CODES[SUCCESS][1], at, wallet, original["party_b"], cents, original["receipt"], txn_id),
    )
    conn.execute("UPDATE transactions SET reversed_by = ? WHERE id = ?", (receipt, original["id"]))
    ledger.journal(conn, txn_id, wallet, ledger.UTILITY, cents, wallet_after, utility_after, at)
    sms.send(
        conn,
        original["party_b"],
        sms.reversal_debited(receipt, original["receipt"], cents, sim.org["org_name"], moment, wallet_after),
    )
    return SUCCESS, receipt


# -- synchronous and asynchronous processing ----------------------------------------------------
SETTLE = {B2C_API: settle_b2c, REVERSAL_API: settle_reversal}


def process_now(sim: Simulator, make_fields, lost: bool) -> dict | None:
    """Sync mode: record and settle in one write transaction, before the answer.

    ``make_fields(conn)`` gives the row. None when its ThirdPartyConversationID was received
    before (nothing recorded, nothing moved); else the row as settled (``result_code``,
    ``receipt``, ``conversation_id``).
    """
    with sim.db.write() as conn:
        fields = make_fields(conn)
        seen = conn.execute(
            "SELECT 1 FROM transactions WHERE originator_conversation_id = ?",
            (fields["originator_conversation_id"],),
        ).fetchone()
        if seen:
            return None
        txn_id = ledger.insert_transaction(conn, **fields)
        SETTLE[fields["api"]](sim, conn, txn_id)
        if lost:
            mark_silent(conn, txn_id)
        return dict(conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone())


def accept(sim: Simulator, make_fields) -> dict | None:
    """Async mode: record the request pending (committed before the answer) and queue it; None
    for a ThirdPartyConversationID received before."""
    with sim.db.write() as conn:
        fields = make_fields(conn)
        try:
            txn_id = ledger.insert_transaction(conn, **fields)
        except sqlite3.IntegrityError:
            return None
    sim.enqueue(process_b2c if fields["api"] == B2C_API else process_reversal, txn_id)
    return {**fields, "id": txn_id}


def _process(sim: Simulator, txn_id: int) -> None:
    row = sim.db.one("SELECT * FROM transactions WHERE id = ? AND status = 'pending'", (txn_id,))
    if row is None:
        return
    lost = sim.faults.fire("lost_result", row["party_b"])
    with sim.db.write() as conn:
        row = conn.execute(
            "SELECT * FROM transactions WHERE id = ? AND status = 'pending'", (txn_id,)
        ).fetchone()
        if row is None:
            return  # another processor got there first
        code, receipt = SETTLE[row["api"]](sim, conn, txn_id)
        if lost:
            mark_silent(conn, txn_id)
        row = conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone()
    if lost:
        return  # processed; its result is never sent, and status queries about it time out
    url = json.loads(row["request_json"]).get("callback_url") or ""
    sim.dispatcher.submit(
        "result", row["originator_conversation_id"], url, result_callback(row), row["party_b"]
    )


def process_b2c(sim: Simulator, txn_id: int) -> None:
    """Async mode: settle one accepted B2C and post its result to the application's URL."""
    _process(sim, txn_id)


def process_reversal(sim: Simulator, txn_id: int) -> None:
    _process(sim, txn_id)


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


# -- status -------------------------------------------------------------------------------------
def find_for_query(sim: Simulator, reference: str) -> sqlite3.Row | None:
    """The OpenAPI transaction a QueryReference names: its receipt (TransactionID), its
    ThirdPartyConversationID or its ConversationID (PORTAL: 'one of 3 values')."""
    for column in ("receipt", "originator_conversation_id", "conversation_id"):
        row = sim.db.one(
            f"SELECT * FROM transactions WHERE {column} = ? AND api IN (?, ?) ORDER BY id LIMIT 1",
            (reference, *APIS),
        )
        if row is not None:
            return row
    return None


TRANSACTION_STATUS = {"completed": "Completed", "failed": "Failed", "pending": "Pending"}


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
        resume={B2C_API: process_b2c, REVERSAL_API: process_reversal},
        start=_start,
        info=settings,
    )
)
