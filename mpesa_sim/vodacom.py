"""What Vodacom's two M-Pesa APIs do alike on the simulator's ledger.

Vodacom's M-Pesa OpenAPI (Tanzania, DR Congo, Lesotho, Ghana, Mozambique: openapi_payments.py)
and Vodacom Mozambique's own API (developer.mpesa.vm.co.mz, v1x: mz_payments.py) are two fronts
of the same kind of platform (docs/markets/vodacom-openapi.md 6 and 8): ``input_*`` parameters,
``INS-*`` codes, a B2C answered synchronously (the receipt in the answer) or asynchronously (the
result POSTed to the application's listener), a reversal of the whole amount, a status query by
TransactionID, the caller's reference or the ConversationID. What differs is the authentication,
some field names and the meaning of several codes: each API is an :class:`InsApi` naming its
codes, and the conditions here (why a payment or a reversal fails) become its own code.

The money moves exactly as for Daraja (payments.py): one write transaction per transfer, the
Utility account's journal, an SMS to the wallet.

Rows in ``transactions``: kind b2c or reversal, api the InsApi's ``b2c_api`` or ``reversal_api``,
the caller's unique reference (OpenAPI: input_ThirdPartyConversationID; Mozambique:
input_ThirdPartyReference) in ``originator_conversation_id`` (so it is unique: a second request
with it is 409 INS-10 whatever the first one's outcome), the platform's ConversationID in
``conversation_id``, result codes as INS codes.

A lower-layer module: it imports no API family and no route (tests/test_sim_layering.py).
"""

from __future__ import annotations

import decimal
import json
import re
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mpesa_sim import directory, ledger, receipts, sms
from mpesa_sim.shared import mark_silent, recipient_limit_breach

SUCCESS = "INS-0"

# Why a B2C fails, in the order checked; each API maps them to its own INS code.
B2C_CONDITIONS = (
    "not_mobile",  # not the market's M-Pesa number plan
    "amount",  # outside the configured minimum and maximum
    "unknown",  # no wallet with this number
    "unregistered",  # a line that is not an M-Pesa customer
    "inactive",  # a frozen (not active) wallet
    "float",  # the organisation's Utility account cannot pay it
    "limit",  # the recipient's daily limit or balance cap
)
# Why a reversal fails.
REVERSAL_CONDITIONS = (
    "not_found",  # no transaction with this TransactionID
    "not_yours",  # a transaction, but not a B2C payment of the organisation (a top-up, a till payment)
    "reversed",  # reversed before
    "amount",  # an amount other than the whole payment's
    "funds",  # the money is no longer in the customer's wallet
)
# Our statuses as the query answers them (output_ResponseTransactionStatus).
TRANSACTION_STATUS = {"completed": "Completed", "failed": "Failed", "pending": "Pending"}


class InsError(Exception):
    """A refusal answered synchronously: the INS code (its HTTP status and text are the API's)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def new_conversation_id() -> str:
    """A ConversationID (and the OpenAPI's SessionID): 32 hex digits, like the PORTAL's samples and
    a Mozambican production answer (vodacom-openapi.md 8)."""
    return secrets.token_hex(16)


# -- validation helpers -------------------------------------------------------------------------
# The PORTAL's amount regex (vodacom-openapi.md 3 [H]); Mozambique's clients send the same forms.
AMOUNT = re.compile(r"\d*\.?\d+")


def values(body: dict, fields: dict[str, str], optional: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Each field as text; INS-20 when a mandatory one is missing or empty, the field's own code
    when it is no string or number."""
    found: dict[str, str | None] = {}
    missing = False
    for name, code in fields.items():
        value = body.get(name)
        if value is None or value == "":
            found[name] = None
            missing = missing or name not in optional
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InsError(code)
        else:
            found[name] = str(value)
    if missing:
        raise InsError("INS-20")
    return found


def check(value: str | None, pattern: re.Pattern, code: str) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise InsError(code)
    return value


def amount_cents(text: str) -> int:
    """``^\\d*\\.?\\d+$`` in cents; INS-15 for more than two decimals or an absurd size."""
    check(text, AMOUNT, "INS-15")
    try:
        cents = decimal.Decimal(text) * 100
    except decimal.InvalidOperation:
        raise InsError("INS-15") from None
    if cents != cents.to_integral_value() or cents >= 10**14:
        raise InsError("INS-15")
    return int(cents)


# -- one API's processing -----------------------------------------------------------------------
@dataclass(frozen=True)
class InsApi:
    """One Vodacom API: its rows' ``api`` values, its code table, the code of each condition and
    the body of its result callback."""

    name: str
    b2c_api: str
    reversal_api: str
    codes: Mapping[str, tuple[int, str]]  # INS code -> (HTTP status, output_ResponseDesc)
    conditions: Mapping[str, str]  # B2C_CONDITIONS and REVERSAL_CONDITIONS -> INS code
    result_callback: Callable[[Any], dict]  # (settled row) -> what the listener is POSTed

    def __post_init__(self) -> None:
        missing = set(B2C_CONDITIONS + REVERSAL_CONDITIONS) - set(self.conditions)
        unknown = set(self.conditions.values()) - set(self.codes)
        if missing or unknown or SUCCESS not in self.codes:
            raise ValueError(f"{self.name}: conditions without a code {missing}, codes not tabled {unknown}")

    @property
    def apis(self) -> tuple[str, str]:
        return (self.b2c_api, self.reversal_api)

    def desc(self, code: str) -> str:
        return self.codes[code][1]

    # -- rows ---------------------------------------------------------------------------------
    def b2c_row(self, msisdn: str, cents: int, reference: str, request: dict, callback_url: str) -> dict:
        """The transaction row of a validated B2C request, pending."""
        return {
            "kind": "b2c",
            "api": self.b2c_api,
            "from_account": ledger.UTILITY,
            "to_account": directory.wallet_ref(msisdn),
            "party_b": msisdn,
            "amount_cents": cents,
            "originator_conversation_id": reference,
            "conversation_id": new_conversation_id(),
            "status": "pending",
            "request_json": request | {"callback_url": callback_url},
        }

    def reversal_row(
        self,
        conn: sqlite3.Connection,
        receipt: str,
        cents: int | None,
        reference: str,
        request: dict,
        callback_url: str,
    ) -> dict:
        """The transaction row of a validated reversal, pending: ``cents`` None reverses the whole
        payment. Who it would debit is the original's wallet (when there is one), decided again
        when it is processed. ``request`` must carry ``input_TransactionID``."""
        original = find_original(conn, receipt)
        reversible = original is not None and original["kind"] == "b2c"
        if cents is None:
            cents = original["amount_cents"] if reversible else 0
        return {
            "kind": "reversal",
            "api": self.reversal_api,
            "from_account": original["to_account"] if reversible else "",
            "to_account": ledger.UTILITY,
            "party_b": original["party_b"] if reversible else None,
            "amount_cents": cents,
            "originator_conversation_id": reference,
            "conversation_id": new_conversation_id(),
            "status": "pending",
            "request_json": request | {"callback_url": callback_url},
        }

    # -- B2C ----------------------------------------------------------------------------------
    def settle_b2c(self, sim, conn: sqlite3.Connection, txn_id: int) -> tuple[str, str | None]:
        """Decide and settle one pending B2C in the caller's write transaction: (INS code, receipt)."""
        row = conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone()
        moment = receipts.now()
        at = receipts.iso(moment)
        condition = decide_b2c(sim, conn, row)
        if condition is not None:
            code = self.conditions[condition]
            self._fail(conn, txn_id, code, at)
            return code, None
        wallet = directory.wallet_ref(row["party_b"])
        cents = row["amount_cents"]
        utility_after, wallet_after = ledger.move(conn, ledger.UTILITY, wallet, cents)
        receipt = ledger.assign_receipt(conn, txn_id)
        conn.execute(
            "UPDATE transactions SET status = 'completed', result_code = ?, result_desc = ?, finalised_at = ?"
            " WHERE id = ?",
            (SUCCESS, self.desc(SUCCESS), at, txn_id),
        )
        ledger.journal(conn, txn_id, ledger.UTILITY, wallet, cents, utility_after, wallet_after, at)
        sms.send(
            conn,
            row["party_b"],
            sms.b2c_received(receipt, cents, sim.org["org_name"], moment, wallet_after),
        )
        return SUCCESS, receipt

    # -- reversal -----------------------------------------------------------------------------
    def settle_reversal(self, sim, conn: sqlite3.Connection, txn_id: int) -> tuple[str, str | None]:
        row = conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone()
        moment = receipts.now()
        at = receipts.iso(moment)
        condition, original = decide_reversal(conn, row)
        if condition is not None:
            code = self.conditions[condition]
            self._fail(conn, txn_id, code, at)
            return code, None
        wallet, cents = original["to_account"], original["amount_cents"]
        wallet_after, utility_after = ledger.move(conn, wallet, ledger.UTILITY, cents)
        receipt = ledger.assign_receipt(conn, txn_id)
        conn.execute(
            "UPDATE transactions SET status = 'completed', result_code = ?, result_desc = ?,"
            " finalised_at = ?, from_account = ?, party_b = ?, amount_cents = ?, linked_receipt = ?"
            " WHERE id = ?",
            (SUCCESS, self.desc(SUCCESS), at, wallet, original["party_b"], cents, original["receipt"])
            + (txn_id,),
        )
        conn.execute("UPDATE transactions SET reversed_by = ? WHERE id = ?", (receipt, original["id"]))
        ledger.journal(conn, txn_id, wallet, ledger.UTILITY, cents, wallet_after, utility_after, at)
        sms.send(
            conn,
            original["party_b"],
            sms.reversal_debited(
                receipt, original["receipt"], cents, sim.org["org_name"], moment, wallet_after
            ),
        )
        return SUCCESS, receipt

    def _fail(self, conn: sqlite3.Connection, txn_id: int, code: str, at: str) -> None:
        conn.execute(
            "UPDATE transactions SET status = 'failed', result_code = ?, result_desc = ?, finalised_at = ?"
            " WHERE id = ?",
            (code, self.desc(code), at, txn_id),
        )

    def _settle(self, sim, conn: sqlite3.Connection, api: str, txn_id: int) -> tuple[str, str | None]:
        settle = self.settle_b2c if api == self.b2c_api else self.settle_reversal
        return settle(sim, conn, txn_id)

    # -- synchronous and asynchronous processing ----------------------------------------------
    def process_now(self, sim, make_fields, lost: bool) -> dict | None:
        """Sync mode: record and settle in one write transaction, before the answer.

        ``make_fields(conn)`` gives the row. None when its reference was received before (nothing
        recorded, nothing moved); else the row as settled (``result_code``, ``receipt``,
        ``conversation_id``).
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
            self._settle(sim, conn, fields["api"], txn_id)
            if lost:
                mark_silent(conn, txn_id)
            return dict(conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone())

    def accept(self, sim, make_fields) -> dict | None:
        """Async mode: record the request pending (committed before the answer) and queue it; None
        for a reference received before."""
        with sim.db.write() as conn:
            fields = make_fields(conn)
            try:
                txn_id = ledger.insert_transaction(conn, **fields)
            except sqlite3.IntegrityError:
                return None
        sim.enqueue(self.process, txn_id)
        return {**fields, "id": txn_id}

    def process(self, sim, txn_id: int) -> None:
        """Async mode (and a restart): settle one accepted B2C or reversal and post its result to
        the application's listener."""
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
            self._settle(sim, conn, row["api"], txn_id)
            if lost:
                mark_silent(conn, txn_id)
            row = conn.execute("SELECT * FROM transactions WHERE id = ?", (txn_id,)).fetchone()
        if lost:
            return  # processed; its result is never sent, and status queries about it time out
        url = json.loads(row["request_json"]).get("callback_url") or ""
        sim.dispatcher.submit(
            "result", row["originator_conversation_id"], url, self.result_callback(row), row["party_b"]
        )

    # -- status -------------------------------------------------------------------------------
    def find_for_query(self, sim, reference: str) -> sqlite3.Row | None:
        """This API's transaction a QueryReference names: its receipt (TransactionID), the caller's
        reference or its ConversationID (PORTAL: 'one of 3 values'; MZDOC the same)."""
        for column in ("receipt", "originator_conversation_id", "conversation_id"):
            row = sim.db.one(
                f"SELECT * FROM transactions WHERE {column} = ? AND api IN (?, ?) ORDER BY id LIMIT 1",
                (reference, *self.apis),
            )
            if row is not None:
                return row
        return None


# -- the decisions (conditions, not codes) ------------------------------------------------------
def decide_b2c(sim, conn: sqlite3.Connection, row: sqlite3.Row) -> str | None:
    """Why this payment fails (one of B2C_CONDITIONS), or None to pay."""
    msisdn, cents = row["party_b"], row["amount_cents"]
    if not directory.is_market_mobile(msisdn):
        return "not_mobile"
    cfg = sim.config
    if not int(cfg["min_amount"]) * 100 <= cents <= int(cfg["max_amount"]) * 100:
        return "amount"
    wallet = conn.execute(
        "SELECT w.*, a.balance_cents FROM wallets w JOIN accounts a ON a.id = w.account_id WHERE msisdn = ?",
        (msisdn,),
    ).fetchone()
    if wallet is None:
        return "unknown"
    if not wallet["registered"]:
        return "unregistered"
    if wallet["status"] != "active":
        return "inactive"
    if ledger.balance(conn, ledger.UTILITY) < cents:
        return "float"
    return "limit" if recipient_limit_breach(conn, cfg, msisdn, wallet, cents) else None


def find_original(conn: sqlite3.Connection, receipt: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM transactions WHERE receipt = ?", (receipt,)).fetchone()


def decide_reversal(conn: sqlite3.Connection, row: sqlite3.Row) -> tuple[str | None, sqlite3.Row | None]:
    """(why it fails, one of REVERSAL_CONDITIONS, or None to reverse; the original payment)."""
    receipt = json.loads(row["request_json"])["input_TransactionID"]
    original = find_original(conn, receipt)
    if original is None:
        if conn.execute("SELECT 1 FROM topups WHERE receipt = ?", (receipt,)).fetchone():
            return "not_yours", None  # a float top-up: no payment of the organisation's
        return "not_found", None
    if original["kind"] != "b2c" or original["from_account"] != ledger.UTILITY:
        return "not_yours", None  # a customer's or another party's transaction, or a reversal
    if original["reversed_by"]:
        return "reversed", original
    # The row holds the amount asked for, or the original's when none was given.
    if row["amount_cents"] != original["amount_cents"]:
        return "amount", original  # partial (or larger) reversals are refused
    if ledger.balance(conn, original["to_account"]) < original["amount_cents"]:
        return "funds", original  # the money is no longer in the customer's wallet
    return None, original
