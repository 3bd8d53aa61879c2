"""The connector's work for one sponsor bank code, with no G2P Bridge import: funds, payments,
results, status queries. The bridge-facing class (:mod:`g2p_bridge_mpesa.connector`) only
translates its answers into the bridge's models.

The same wire code as the Odoo addon: ``mpesa_wire.for_market`` gives the API family (its config,
client, parsers, result-code classes and its own idempotency keys, ``family.new_conversation_id``);
every payment's request id is reserved and COMMITTED in PostgreSQL before its request leaves, so a
batch the bridge sends again never pays anyone twice.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from mpesa_wire import (
    AuthError,
    B2CRequest,
    OutcomeKind,
    ResultClass,
    SubmitOutcome,
    WireError,
    msisdn_matches,
)

from . import ledger
from .db import Database, database
from .preflight import Refusal, amount_of, check_payment
from .settings import BankSettings, MpesaBridgeSettings, SettingsError
from .throttle import throttle_for

_logger = logging.getLogger(__name__)

FINAL = ("paid", "failed", "refused")
OPEN = ("reserved", "accepted", "unknown", "review")
STATUS_FAILED = ("failed", "declined", "cancelled", "expired")
CREDENTIAL_RESULT_CODES = ("2001", "8006")


class CallbackRefused(Exception):
    """A result that must not be applied; the reason is logged, never sent back."""


@dataclass(frozen=True)
class FundsAnswer:
    status: str  # "available", "not_available", "pending"
    error_code: str = ""


@dataclass(frozen=True)
class BlockAnswer:
    ok: bool
    reference: str = ""
    error_code: str = ""
    pending: bool = False


@dataclass(frozen=True)
class PaymentAnswer:
    ok: bool
    error_code: str = ""
    sent: int = 0
    refused: int = 0
    again: int = 0  # already known (a batch sent again): nothing new sent for them


def _now():
    return datetime.now(timezone.utc)


def _field(payload, name, default=None):
    if isinstance(payload, dict):
        return payload.get(name, default)
    return getattr(payload, name, default)


class Engine:
    """One sponsor bank code: its settings, its wire family, the shared ledger."""

    def __init__(
        self, settings: MpesaBridgeSettings, code: str, bank: BankSettings, db: Database | None = None
    ):
        self.settings = settings
        self.code = code
        self.bank = bank
        self.family = bank.family
        self.market = bank.market_data
        self._db = db

    @classmethod
    def for_bank(
        cls, settings: MpesaBridgeSettings, code: str | None = None, account_number: str | None = None
    ):
        code, bank = settings.bank(code, account_number)
        return cls(settings, code, bank)

    def __repr__(self):
        return f"Engine({self.code}, {self.market.code})"

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = database(self.settings.dsn())
        return self._db

    # ------------------------------------------------------------------ wire
    def callback_url(self, kind: str, reference: str | None = None) -> str:
        """Where M-Pesa posts results: the listener, the bank code and its secret in the path.
        Never logged (the secret is the callback's authentication)."""
        base, secret = self.bank.callback_base_url, self.bank.secret("callback_secret")
        if not base or not secret:
            raise SettingsError(f"{self.code}: callback_base_url and callback_secret are required")
        url = f"{base}/mpesa/{self.code}/{secret}/{kind}"
        return f"{url}/{reference}" if reference else url

    def client(self):
        config = self.bank.wire_config()
        throttle = throttle_for(self.db, config.budget_key, self.bank.max_requests_per_second)
        return self.family.client(config, throttle)

    def blocked_reason(self, cur) -> str | None:
        cur.execute("SELECT blocked_reason FROM mpesa_bridge_bank_state WHERE bank_code = %s", [self.code])
        row = cur.fetchone()
        return row["blocked_reason"] if row else None

    def block_sending(self, reason: str) -> None:
        _logger.error("M-Pesa %s: sending stopped: %s", self.code, reason)
        with self.db.cursor() as cur:
            cur.execute(
                "INSERT INTO mpesa_bridge_bank_state (bank_code, blocked_reason, blocked_at)"
                " VALUES (%s, %s, now())"
                " ON CONFLICT (bank_code) DO UPDATE SET blocked_reason = EXCLUDED.blocked_reason,"
                " blocked_at = EXCLUDED.blocked_at",
                [self.code, reason],
            )

    def resume_sending(self) -> None:
        with self.db.cursor() as cur:
            cur.execute("DELETE FROM mpesa_bridge_bank_state WHERE bank_code = %s", [self.code])

    # ------------------------------------------------------------------ funds
    def _currency_problem(self, currency) -> str | None:
        if currency and str(currency).upper() != self.market.currency:
            return f"MPESA_CURRENCY: M-Pesa {self.market.name} pays in {self.market.currency}, not {currency}"
        return None

    def latest_balance(self, cur, max_age: float | None = None) -> tuple[Decimal, datetime] | None:
        cur.execute(
            "SELECT utility_available, reported_at FROM mpesa_bridge_balance"
            " WHERE bank_code = %s AND utility_available IS NOT NULL"
            " ORDER BY reported_at DESC, id DESC LIMIT 1",
            [self.code],
        )
        row = cur.fetchone()
        if not row:
            return None
        if max_age is not None and row["reported_at"] < _now() - timedelta(seconds=max_age):
            return None
        return Decimal(row["utility_available"]), row["reported_at"]

    def _float_report_due(self, cur) -> bool:
        """A B2C result's float is kept at most every few seconds (a balance result's always)."""
        cur.execute(
            "SELECT 1 FROM mpesa_bridge_balance WHERE bank_code = %s"
            " AND reported_at > now() - interval '5 seconds' LIMIT 1",
            [self.code],
        )
        return cur.fetchone() is None

    def store_balance(self, cur, utility, working, source: str) -> None:
        cur.execute(
            "INSERT INTO mpesa_bridge_balance (bank_code, utility_available, working_available, source)"
            " VALUES (%s, %s, %s, %s)",
            [self.code, utility, working, source],
        )

    def available(self, cur, balance: Decimal, reported_at: datetime) -> Decimal:
        """The float M-Pesa reported, less what was paid out since, less what open reservations
        still count on."""
        cur.execute(
            """
            SELECT COALESCE(sum(e.amount), 0) AS paid FROM mpesa_bridge_fund_entry e
              JOIN mpesa_bridge_reservation r ON r.block_reference = e.block_reference
             WHERE r.bank_code = %s AND e.kind = 'pay' AND e.created_at > %s
            """,
            [self.code, reported_at],
        )
        paid_since = Decimal(cur.fetchone()["paid"])
        return balance - paid_since - ledger.committed(cur, self.code)

    def request_balance(self) -> SubmitOutcome:
        with self.client() as client:
            return client.account_balance(
                result_url=self.callback_url("balance"), timeout_url=self.callback_url("timeout")
            )

    def fresh_balance(self, wait: bool = True) -> tuple[Decimal, datetime] | None:
        """A balance no older than ``balance_max_age_seconds``: the last one the listener stored,
        or, when there is none, one asked for now (Daraja answers AccountBalance asynchronously, at
        the listener) and waited for up to ``balance_wait_seconds``."""
        max_age = self.settings.balance_max_age_seconds
        with self.db.cursor() as cur:
            found = self.latest_balance(cur, max_age)
        if found or not wait:
            return found
        asked_at = _now()
        try:
            outcome = self.request_balance()
        except (WireError, SettingsError) as exc:
            _logger.warning("M-Pesa %s: balance query not sent: %s", self.code, exc)
            return None
        if not outcome.accepted:
            _logger.warning(
                "M-Pesa %s: balance query not accepted: %s %s", self.code, outcome.code, outcome.message
            )
            return None
        deadline = time.monotonic() + self.settings.balance_wait_seconds
        while time.monotonic() < deadline:
            time.sleep(0.25)
            with self.db.cursor() as cur:
                found = self.latest_balance(cur)
            if found and found[1] >= asked_at:
                return found
        return None

    def _short(self, available, amount) -> str:
        return f"MPESA_FLOAT_SHORT: {self.market.currency} {available} available, {amount} needed"

    def check_funds(self, account_number, currency, amount) -> FundsAnswer:
        problem = self._currency_problem(currency)
        if problem:
            return FundsAnswer("not_available", problem)
        amount = amount_of(amount)
        if not self.family.has_balance:
            # Vodacom's OpenAPI has no balance query: nothing to check against.
            if self.bank.no_balance_policy == "refuse":
                return FundsAnswer("not_available", "MPESA_NO_BALANCE_QUERY: the API cannot tell the float")
            return FundsAnswer("available", "MPESA_NO_BALANCE_QUERY: float not verified")
        balance = self.fresh_balance()
        if balance is None:
            return FundsAnswer("pending", "MPESA_BALANCE_PENDING: no balance from M-Pesa yet")
        with self.db.cursor() as cur:
            available = self.available(cur, *balance)
        if amount <= available:
            return FundsAnswer("available")
        return FundsAnswer(
            "not_available",
            self._short(available, amount),
        )

    def block_funds(self, account_number, currency, amount) -> BlockAnswer:
        problem = self._currency_problem(currency)
        if problem:
            return BlockAnswer(False, error_code=problem)
        amount = amount_of(amount)
        balance = None
        if self.family.has_balance:
            balance = self.fresh_balance()
            if balance is None:
                return BlockAnswer(
                    False, error_code="MPESA_BALANCE_PENDING: no balance from M-Pesa yet", pending=True
                )
        elif self.bank.no_balance_policy == "refuse":
            return BlockAnswer(False, error_code="MPESA_NO_BALANCE_QUERY: the API cannot tell the float")
        with self.db.cursor() as cur:
            ledger.lock_bank(cur, self.code)
            if balance is not None:
                available = self.available(cur, *balance)
                if amount > available:
                    return BlockAnswer(
                        False,
                        error_code=self._short(available, amount),
                    )
            reference = ledger.block(cur, self.code, account_number, self.market.currency, amount)
        _logger.info("M-Pesa %s: %s %s blocked under %s", self.code, self.market.currency, amount, reference)
        return BlockAnswer(True, reference=reference)

    # ------------------------------------------------------------------ payments
    def initiate(self, payloads) -> PaymentAnswer:
        """One B2C request per disbursement, at most one payment per disbursement id ever."""
        with self.db.cursor() as cur:
            reason = self.blocked_reason(cur)
        if reason:
            return PaymentAnswer(False, f"MPESA_STOPPED: {reason}")
        try:
            self.bank.wire_config()
            self.callback_url("result")
        except SettingsError as exc:
            return PaymentAnswer(False, f"MPESA_SETTINGS: {exc}")
        checked = []
        for payload in payloads:
            try:
                ok = check_payment(
                    self.bank,
                    amount=_field(payload, "payment_amount"),
                    currency=_field(payload, "remitting_account_currency"),
                    phone=_field(payload, "beneficiary_phone_no"),
                    account_type=_field(payload, "beneficiary_account_type"),
                    wallet_provider=_field(payload, "beneficiary_mobile_wallet_provider"),
                )
                checked.append((payload, ok, None))
            except Refusal as refusal:
                checked.append((payload, None, refusal))
        to_send, refused, again = self._reserve(checked)
        # Committed: every request id is durable before any request leaves.
        auth_error = self._send(to_send)
        if auth_error:
            self.block_sending(f"M-Pesa refused the credentials: {auth_error}")
            return PaymentAnswer(
                False, "MPESA_AUTH: M-Pesa refused the credentials", len(to_send), refused, again
            )
        return PaymentAnswer(True, "", len(to_send), refused, again)

    def _reserve(self, checked):
        to_send, refused, again = [], 0, 0
        # One order for every worker: two processes reserving the same batch lock rows alike.
        checked = sorted(checked, key=lambda item: str(_field(item[0], "disbursement_id")))
        with self.db.cursor() as cur:
            for payload, ok, refusal in checked:
                disbursement_id = str(_field(payload, "disbursement_id"))
                try:
                    amount = amount_of(_field(payload, "payment_amount"))
                    if not amount.is_finite():
                        raise Refusal("PREFLIGHT_AMOUNT", "Amount is not a number")
                except Refusal as exc:
                    amount, refusal = Decimal(0), refusal or exc
                row = {
                    "disbursement_id": disbursement_id,
                    "bank_code": self.code,
                    "market": self.market.code,
                    "account_number": str(_field(payload, "remitting_account") or ""),
                    "currency": str(_field(payload, "remitting_account_currency") or self.market.currency),
                    "block_reference": _field(payload, "funds_blocked_reference_number") or None,
                    "amount": amount,
                    "msisdn": ok.msisdn if ok else None,
                    "beneficiary_id": _field(payload, "beneficiary_id"),
                    "beneficiary_name": _field(payload, "beneficiary_name"),
                    "program": _field(payload, "benefit_program_mnemonic"),
                    "cycle": _field(payload, "cycle_code_mnemonic"),
                    "conversation_id": None if refusal else self.family.new_conversation_id(),
                }
                if row["block_reference"]:
                    cur.execute(
                        "SELECT 1 FROM mpesa_bridge_reservation WHERE block_reference = %s",
                        [row["block_reference"]],
                    )
                    if cur.fetchone() is None:
                        if not refusal:
                            refusal = Refusal(
                                "FUNDS_NOT_BLOCKED",
                                f"funds were not blocked by this connector (block {row['block_reference']})",
                            )
                        row["block_reference"] = None
                elif not refusal:
                    refusal = Refusal("FUNDS_NOT_BLOCKED", "the payment names no funds block")
                if refusal:
                    row["conversation_id"] = None
                if not self._insert_payment(cur, row, refusal):
                    # Known already (a batch sent again, or another worker has it right now: the
                    # insert waited for that one's transaction): never a second request id.
                    existing = self._lock_payment(cur, disbursement_id)
                    again += 1
                    self._compare_again(existing, payload, ok)
                    if self._due_again(existing):
                        to_send.append(self._send_item(existing))
                    continue
                if row["block_reference"] and amount > 0:
                    try:
                        ledger.hold(cur, row["block_reference"], disbursement_id, amount)
                    except ledger.LedgerError as exc:
                        if not refusal:
                            refusal = Refusal("FUNDS_NOT_BLOCKED", str(exc))
                            self._refuse(cur, disbursement_id, refusal)
                    if refusal:
                        ledger.settle_released(cur, disbursement_id, f"refused: {refusal.code}")
                if refusal:
                    refused += 1
                    _logger.info(
                        "M-Pesa %s: %s refused before sending: %s", self.code, disbursement_id, refusal.reason
                    )
                    continue
                cur.execute(
                    "INSERT INTO mpesa_bridge_request (conversation_id, disbursement_id) VALUES (%s, %s)",
                    [row["conversation_id"], disbursement_id],
                )
                to_send.append(self._send_item(row))
            if to_send:
                cur.execute(
                    "UPDATE mpesa_bridge_payment SET submit_attempts = submit_attempts + 1,"
                    " last_submit_at = now(),"
                    " next_check_at = NULL, updated_at = now() WHERE disbursement_id = ANY(%s)",
                    [[item["disbursement_id"] for item in to_send]],
                )
        return to_send, refused, again

    def _insert_payment(self, cur, row, refusal) -> bool:
        columns = list(row)
        values = [row[key] for key in columns]
        columns += ["state", "result_code", "result_desc", "completed_at"]
        values += (
            ["refused", refusal.code, refusal.reason, _now()] if refusal else ["reserved", None, None, None]
        )
        cur.execute(
            f"INSERT INTO mpesa_bridge_payment ({', '.join(columns)})"
            f" VALUES ({', '.join(['%s'] * len(columns))})"
            " ON CONFLICT (disbursement_id) DO NOTHING RETURNING disbursement_id",
            values,
        )
        return cur.fetchone() is not None

    def _refuse(self, cur, disbursement_id, refusal):
        cur.execute(
            "UPDATE mpesa_bridge_payment SET state = 'refused', conversation_id = NULL, result_code = %s,"
            " result_desc = %s, completed_at = now(), updated_at = now() WHERE disbursement_id = %s",
            [refusal.code, refusal.reason, disbursement_id],
        )

    def _due_again(self, row) -> bool:
        """A request reserved and never acknowledged is sent again, with its same id, when it is
        due (M-Pesa refused it for a passing reason) or when no process has tried it for
        ``stale_reservation_seconds`` (its worker died); never while another process may be
        sending it right now."""
        if row["state"] != "reserved":
            return False
        if row["next_check_at"] is not None:
            return row["next_check_at"] <= _now()
        stale = _now() - timedelta(seconds=self.settings.stale_reservation_seconds)
        return row["last_submit_at"] is None or row["last_submit_at"] < stale

    def _compare_again(self, row, payload, ok):
        """A disbursement sent again must be the same payment: otherwise a person looks."""
        try:
            same_amount = amount_of(_field(payload, "payment_amount")) == Decimal(row["amount"])
        except Refusal:
            same_amount = False
        same_number = ok is None or row["msisdn"] is None or ok.msisdn == row["msisdn"]
        if not (same_amount and same_number):
            _logger.warning(
                "M-Pesa %s: disbursement %s sent again with a different amount or number: the first is kept",
                self.code,
                row["disbursement_id"],
            )

    def _send_item(self, row) -> dict:
        program = " ".join(str(part) for part in (row.get("program"), row.get("cycle")) if part)
        remarks = (program or self.bank.remarks)[:100]
        if len(remarks) < 2:
            remarks = "G2P payment"
        return {
            "disbursement_id": row["disbursement_id"],
            "conversation_id": row["conversation_id"],
            "request": B2CRequest(
                originator_conversation_id=row["conversation_id"],
                msisdn=row["msisdn"],
                amount=int(Decimal(row["amount"])),
                remarks=remarks,
                occasion=str(row["disbursement_id"])[:100],
                result_url=self.callback_url("result"),
                timeout_url=self.callback_url("timeout"),
                command_id=self.bank.command_id,
            ),
        }

    def _send(self, items) -> str | None:
        """Submit concurrently; record what M-Pesa answered. Returns an AuthError's text, if any."""
        if not items:
            return None
        auth_error = None

        def submit(item):
            try:
                return client.b2c_submit(item["request"])
            except AuthError:
                raise
            except Exception as exc:  # the outcome is unknown: asked about, never sent again blindly
                _logger.warning(
                    "M-Pesa %s: submit of %s failed unexpectedly (%s)",
                    self.code,
                    item["disbursement_id"],
                    type(exc).__name__,
                )
                return SubmitOutcome(kind=OutcomeKind.UNKNOWN, code="exception", message=type(exc).__name__)

        results = []
        with self.client() as client:
            workers = max(1, min(self.bank.concurrency, len(items)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mpesa-bridge") as pool:
                futures = [(item, pool.submit(submit, item)) for item in items]
                for item, future in futures:
                    try:
                        results.append((item, future.result()))
                    except AuthError as exc:
                        auth_error = str(exc)
        self._record(results)
        return auth_error

    def _record(self, results) -> None:
        now = _now()
        with self.db.cursor() as cur:
            for item, outcome in results:
                row = self._lock_payment(cur, item["disbursement_id"])
                if (
                    row is None
                    or row["state"] != "reserved"
                    or row["conversation_id"] != item["conversation_id"]
                ):
                    continue  # its result came before its acknowledgement: the result won
                if outcome.kind is OutcomeKind.ACCEPTED:
                    self._update(
                        cur,
                        row,
                        state="accepted",
                        mpesa_conversation_id=outcome.conversation_id,
                        next_check_at=now + timedelta(seconds=self.settings.reconcile_after_seconds),
                    )
                elif outcome.kind is OutcomeKind.REJECTED:
                    self._fail(cur, row, outcome.code or "REJECTED", outcome.message or "refused by M-Pesa")
                elif outcome.kind is OutcomeKind.UNKNOWN:
                    # Never sent again under a new id: M-Pesa is asked what became of this one.
                    self._update(
                        cur,
                        row,
                        state="unknown",
                        result_code=outcome.code,
                        result_desc=outcome.message,
                        next_check_at=now + timedelta(seconds=self.settings.unknown_check_seconds),
                    )
                elif row["submit_attempts"] >= self.settings.max_submit_attempts:
                    self._update(
                        cur,
                        row,
                        state="unknown",
                        result_code=outcome.code,
                        result_desc=outcome.message,
                        next_check_at=now,
                    )
                else:  # TRANSIENT: provably not processed; the serve loop sends it again, same id
                    delay = max(outcome.retry_after or 0, 2 ** row["submit_attempts"])
                    self._update(
                        cur,
                        row,
                        result_code=outcome.code,
                        result_desc=outcome.message,
                        next_check_at=now + timedelta(seconds=min(delay, 300)),
                    )
            for _item, outcome in results:
                if outcome.kind is OutcomeKind.ACCEPTED and outcome.result is not None:
                    try:  # results given in the answer (the OpenAPI's synchronous B2C)
                        self.apply_result(cur, outcome.result)
                    except CallbackRefused as exc:
                        _logger.warning("M-Pesa %s: result in the answer not applied: %s", self.code, exc)

    # ------------------------------------------------------------------ state changes
    def _lock_payment(self, cur, disbursement_id):
        cur.execute(
            "SELECT * FROM mpesa_bridge_payment WHERE disbursement_id = %s FOR UPDATE", [disbursement_id]
        )
        return cur.fetchone()

    def _lock_request(self, cur, conversation_id):
        if not conversation_id:
            raise CallbackRefused("no OriginatorConversationID")
        cur.execute(
            "SELECT p.* FROM mpesa_bridge_request r JOIN mpesa_bridge_payment p USING (disbursement_id)"
            " WHERE r.conversation_id = %s AND p.bank_code = %s FOR UPDATE OF p",
            [conversation_id, self.code],
        )
        row = cur.fetchone()
        if not row:
            raise CallbackRefused(f"unknown OriginatorConversationID {conversation_id}")
        return row

    def _update(self, cur, row, **values):
        values["updated_at"] = _now()
        sets = ", ".join(f"{key} = %s" for key in values)
        cur.execute(
            f"UPDATE mpesa_bridge_payment SET {sets} WHERE disbursement_id = %s",
            [*values.values(), row["disbursement_id"]],
        )
        row.update(values)

    def _fail(self, cur, row, code, desc):
        self._update(
            cur,
            row,
            state="failed",
            result_code=str(code),
            result_desc=desc,
            completed_at=_now(),
            next_check_at=None,
        )
        ledger.settle_released(cur, row["disbursement_id"], f"failed: {code}")
        _logger.info("M-Pesa %s: %s failed (%s)", self.code, row["disbursement_id"], code)

    def _pay(self, cur, row, *, receipt, completed_at, receiver_name, code, desc):
        self._update(
            cur,
            row,
            state="paid",
            receipt=receipt,
            completed_at=completed_at or _now(),
            receiver_name=receiver_name,
            result_code=str(code),
            result_desc=desc,
            next_check_at=None,
        )
        ledger.settle_paid(cur, row["disbursement_id"], f"receipt {receipt}")
        _logger.info("M-Pesa %s: %s paid, receipt %s", self.code, row["disbursement_id"], receipt)

    def _review(self, cur, row, reason):
        self._update(cur, row, state="review", result_desc=reason, next_check_at=None)
        _logger.warning("M-Pesa %s: %s held for review: %s", self.code, row["disbursement_id"], reason)

    def _check_match(self, row, amount, msisdn):
        if amount is None and not self.family.results_carry_amount:
            amount = row["amount"]  # the OpenAPI confirms the request made under our id
        if amount is None or Decimal(amount) != Decimal(row["amount"]):
            raise CallbackRefused(
                f"amount {amount} does not match {row['currency']} {row['amount']} sent for "
                f"{row['disbursement_id']}"
            )
        if msisdn and not msisdn_matches(msisdn, row["msisdn"], self.market.number_plan):
            raise CallbackRefused(
                f"the receiver's number does not match the one paid for {row['disbursement_id']}"
            )

    def _failure(self, cur, row, code, desc):
        if (
            self.family.classify_result_code(code) == ResultClass.TRANSIENT
            and row["new_ids"] < self.settings.max_new_ids
        ):
            # M-Pesa failed this request and moved no money: the payment goes again, new id.
            new_id = self.family.new_conversation_id()
            cur.execute(
                "INSERT INTO mpesa_bridge_request (conversation_id, disbursement_id) VALUES (%s, %s)",
                [new_id, row["disbursement_id"]],
            )
            self._update(
                cur,
                row,
                state="reserved",
                conversation_id=new_id,
                mpesa_conversation_id=None,
                new_ids=row["new_ids"] + 1,
                submit_attempts=0,
                status_queries=0,
                result_code=str(code),
                result_desc=desc,
                next_check_at=_now() + timedelta(seconds=self.settings.unknown_check_seconds),
            )
            return
        self._fail(cur, row, code, desc)
        if str(code) in CREDENTIAL_RESULT_CODES:
            self.block_sending(f"M-Pesa refused the initiator credential (result {code})")

    # ------------------------------------------------------------------ results
    def apply_result(self, cur, result) -> str:
        """A B2C result, from the listener or given in the answer to the request itself."""
        row = self._lock_request(cur, result.originator_conversation_id)
        if row["conversation_id"] != result.originator_conversation_id:
            if result.is_success:
                self._review(
                    cur,
                    row,
                    f"M-Pesa paid an earlier request {result.originator_conversation_id} "
                    f"(receipt {result.receipt}) after failing it",
                )
                return "late success, held"
            return "stale"
        if (
            row["mpesa_conversation_id"]
            and result.conversation_id
            and row["mpesa_conversation_id"] != result.conversation_id
        ):
            raise CallbackRefused(
                f"ConversationID {result.conversation_id} is not the one M-Pesa acknowledged"
            )
        if row["state"] in FINAL:
            same = (row["state"] == "paid" and result.is_success and result.receipt == row["receipt"]) or (
                row["state"] == "failed"
                and not result.is_success
                and str(result.result_code) == row["result_code"]
            )
            if same:
                return "duplicate"
            raise CallbackRefused(f"a different result for {row['disbursement_id']}, already {row['state']}")
        if result.is_success:
            self._check_match(row, result.amount, result.receiver_msisdn)
            if not result.receipt:
                raise CallbackRefused(f"a success for {row['disbursement_id']} without a receipt")
            self._pay(
                cur,
                row,
                receipt=result.receipt,
                completed_at=result.completed_at,
                receiver_name=result.receiver_name,
                code=result.result_code,
                desc=result.result_desc,
            )
            if result.utility_funds is not None and self._float_report_due(cur):
                self.store_balance(cur, result.utility_funds, result.working_funds, "result")
        else:
            self._failure(cur, row, result.result_code, result.result_desc)
        return "applied"

    def apply_timeout(self, cur, notice) -> str:
        row = self._lock_request(cur, notice.originator_conversation_id)
        if row["conversation_id"] == notice.originator_conversation_id and row["state"] in (
            "reserved",
            "accepted",
        ):
            self._update(
                cur,
                row,
                state="unknown",
                result_code="QUEUE_TIMEOUT",
                result_desc="M-Pesa reported a queue timeout: checking the outcome",
                next_check_at=_now(),
            )
            return "applied"
        return "ignored"

    def apply_status(self, cur, result, conversation_id=None) -> str:
        """A status query's answer, from the listener or given in the response to the query."""
        row = self._lock_request(cur, conversation_id or result.original_conversation_id)
        if row["state"] in FINAL or row["conversation_id"] != (
            conversation_id or result.original_conversation_id
        ):
            return "ignored"
        if result.not_found:
            # M-Pesa never received it: sent again under the same id (a duplicate is refused).
            self._update(cur, row, state="reserved", next_check_at=_now())
            return "resubmit"
        if not result.transaction_found:
            _logger.warning(
                "M-Pesa %s: status query for %s answered %s",
                self.code,
                row["disbursement_id"],
                result.result_code,
            )
            return "query failed"
        if not result.is_success:
            self._failure(cur, row, result.result_code, result.result_desc)
            return "applied"
        status = (result.status or "").strip().lower()
        if status == "completed":
            if not result.receipt and self.family.status_names_receipt:
                # This API's completed status always names the receipt: one without is not M-Pesa's.
                raise CallbackRefused(f"a completed status for {row['disbursement_id']} without a receipt")
            if row["receipt"] and result.receipt and row["receipt"] != result.receipt:
                raise CallbackRefused(f"receipt {result.receipt} differs from {row['receipt']}")
            self._check_match(row, result.amount, None)
            name = (result.credit_party_name or "").split(" - ", 1)[-1] or None
            receipt = result.receipt or row["receipt"]
            self._pay(
                cur,
                row,
                receipt=receipt,
                completed_at=result.finalised_at,
                receiver_name=name,
                code=result.result_code,
                desc="Confirmed by a status query"
                if receipt
                else "Completed according to M-Pesa's status answer, which names no receipt",
            )
            return "applied"
        if status in STATUS_FAILED:
            self._fail(cur, row, f"STATUS_{status.upper()}", result.result_desc or status)
            return "applied"
        return "pending"

    def apply_balance(self, cur, result) -> str:
        if not result.is_success:
            raise CallbackRefused(f"balance query failed: {result.result_code} {result.result_desc}")
        utility = result.accounts.get("Utility Account")
        working = result.accounts.get("Working Account")
        self.store_balance(
            cur, utility.available if utility else None, working.available if working else None, "balance"
        )
        return "applied"

    def handle_callback(self, kind: str, body: Any, reference: str | None = None) -> str:
        """What the listener received at /mpesa/<code>/<secret>/<kind>[/<reference>]."""
        family = self.family
        with self.db.cursor() as cur:
            if kind == "result":
                return self.apply_result(cur, family.parse_result(body))
            if kind == "timeout":
                return self.apply_timeout(cur, family.parse_queue_timeout(body))
            if kind == "status":
                return self.apply_status(cur, family.parse_status_result(body), reference)
            if kind == "balance":
                return self.apply_balance(cur, family.parse_balance_result(body))
        raise CallbackRefused(f"unknown callback kind {kind!r}")

    # ------------------------------------------------------------------ reconciliation
    def reconcile(self, limit: int = 200) -> dict:
        """One pass: send again what is reserved and due (same id), ask M-Pesa about what has no
        final answer, hold for a person what stays unknown after ``max_status_queries``."""
        counts = {"resent": 0, "queried": 0, "held": 0}
        with self.db.cursor() as cur:
            if self.blocked_reason(cur):
                return counts
            stale = _now() - timedelta(seconds=self.settings.stale_reservation_seconds)
            cur.execute(
                """
                SELECT * FROM mpesa_bridge_payment
                 WHERE bank_code = %s AND state = 'reserved'
                   AND ((next_check_at IS NOT NULL AND next_check_at <= now())
                        OR (next_check_at IS NULL AND last_submit_at < %s))
                 ORDER BY disbursement_id LIMIT %s FOR UPDATE SKIP LOCKED
                """,
                [self.code, stale, limit],
            )
            resend = []
            for row in cur.fetchall():
                if row["submit_attempts"] >= self.settings.max_submit_attempts:
                    self._update(cur, row, state="unknown", next_check_at=_now())
                    continue
                self._update(
                    cur,
                    row,
                    submit_attempts=row["submit_attempts"] + 1,
                    last_submit_at=_now(),
                    next_check_at=None,
                )
                resend.append(self._send_item(row))
            cur.execute(
                """
                SELECT * FROM mpesa_bridge_payment
                 WHERE bank_code = %s AND state IN ('accepted', 'unknown') AND next_check_at <= now()
                 ORDER BY next_check_at LIMIT %s FOR UPDATE SKIP LOCKED
                """,
                [self.code, limit],
            )
            ask = []
            for row in cur.fetchall():
                if row["status_queries"] >= self.settings.max_status_queries:
                    self._review(
                        cur, row, f"no final answer from M-Pesa after {row['status_queries']} status queries"
                    )
                    counts["held"] += 1
                    continue
                self._update(
                    cur,
                    row,
                    status_queries=row["status_queries"] + 1,
                    next_check_at=_now() + timedelta(seconds=self.settings.status_query_interval_seconds),
                )
                ask.append(row["conversation_id"])
        if resend:
            auth_error = self._send(resend)
            counts["resent"] = len(resend)
            if auth_error:
                self.block_sending(f"M-Pesa refused the credentials: {auth_error}")
                return counts
        if ask:
            counts["queried"] = len(ask)
            self._query(ask)
        return counts

    def _query(self, conversation_ids):
        timeout_url = self.callback_url("timeout")

        def one(ocid):
            try:
                return client.transaction_status(
                    originator_conversation_id=ocid,
                    result_url=self.callback_url("status", ocid),
                    timeout_url=timeout_url,
                )
            except WireError as exc:
                return exc

        with self.client() as client:
            workers = max(1, min(self.bank.concurrency, len(conversation_ids)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mpesa-bridge-status") as pool:
                answers = list(pool.map(one, conversation_ids))
        for ocid, answer in zip(conversation_ids, answers, strict=True):
            result = getattr(answer, "result", None)
            if result is not None:  # answered in the response (the OpenAPI)
                try:
                    with self.db.cursor() as cur:
                        self.apply_status(cur, result, ocid)
                except CallbackRefused as exc:
                    _logger.warning("M-Pesa %s: status answer for %s not applied: %s", self.code, ocid, exc)
            elif not (hasattr(answer, "kind") and answer.accepted):
                _logger.warning(
                    "M-Pesa %s: status query for %s not accepted (asked again later)", self.code, ocid
                )

    def expire_reservations(self) -> list[str]:
        with self.db.cursor() as cur:
            return ledger.expire(cur, self.settings.reservation_ttl_hours)
