"""The simple-mpesa HTTP contract (what OpenG2P's g2p_payment_simple_mpesa talks to), on our ledger.

A reimplementation of the documented contract, not of the original Go code. Differences on
purpose: insufficient balance answers 400 (simple-mpesa answered 500), and every transfer gets
a receipt and SMS like any other M-Pesa transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mpesa_sim import credentials, directory, ledger, organisation, receipts, sms
from mpesa_sim.receipts import shillings

router = APIRouter(prefix="/api", tags=["simple-mpesa"])
USER_TYPES = ("administrator", "agent", "merchant", "subscriber")
TOKEN_TTL = 24 * 3600
PROCESSING = {"message": "Transaction under processing. You will receive a message shortly."}


class SmError(Exception):
    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def _error(exc: SmError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.kind, "message": exc.message, "status": exc.status}, status_code=exc.status
    )


async def _fields(request: Request) -> dict:
    """Form-encoded or JSON, as simple-mpesa accepted both."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise SmError(400, "bad_request", "body is not valid JSON") from None
        if not isinstance(data, dict):
            raise SmError(400, "bad_request", "body must be an object")
        return data
    text = raw.decode("utf-8", "replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}


def _user(request: Request) -> sqlite3.Row:
    sim = request.app.state.sim
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    claims = credentials.verify_token(sim.jwt_secret, token.strip()) if scheme.lower() == "bearer" else None
    if not claims or claims.get("exp", 0) < time.time():
        raise SmError(401, "unauthorized", "missing, invalid or expired token")
    row = sim.db.one("SELECT * FROM sm_users WHERE id = ?", (claims.get("sub"),))
    if row is None:
        raise SmError(401, "unauthorized", "unknown user")
    return row


def _amount(fields: dict) -> int:
    value = fields.get("amount")
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit() or not 0 < int(text) <= 10**9:
        raise SmError(400, "validation", "amount: a positive whole number of shillings")
    return int(text) * 100


def _ref(conn: sqlite3.Connection, account_id: int | None) -> str | None:
    if account_id is None:
        return None
    return conn.execute("SELECT ref FROM accounts WHERE id = ?", (account_id,)).fetchone()["ref"]


def _find_customer(
    conn: sqlite3.Connection, account_no: Any, customer_type: str
) -> tuple[str, str, str | None]:
    """(account ref, display name, msisdn for the SMS) of a subscriber/agent by email or phone."""
    key = str(account_no or "").strip()
    if not key:
        raise SmError(400, "validation", "accountNo is required")
    user = conn.execute(
        "SELECT * FROM sm_users WHERE user_type = ? AND (email = ? OR phone = ?)",
        (customer_type, key.lower(), directory.normalise_msisdn(key)),
    ).fetchone()
    if user is not None and user["account_id"] is not None:
        name = f"{user['first_name']} {user['last_name']}".strip().upper()
        return _ref(conn, user["account_id"]), name, user["phone"]
    if customer_type == "subscriber":
        msisdn = directory.normalise_msisdn(key)
        wallet = conn.execute(
            "SELECT * FROM wallets WHERE msisdn = ? OR email = ?", (msisdn, key.lower())
        ).fetchone()
        if wallet is not None and wallet["registered"] and wallet["status"] == "active":
            name = f"{wallet['first_name']} {wallet['last_name']}".strip().upper()
            return directory.wallet_ref(wallet["msisdn"]), name, wallet["msisdn"]
    raise SmError(400, "not_found", f"no {customer_type} with account number {key[:64]}")


def _success(data: Any, message: str = "Success") -> dict:
    return {"status": "success", "message": message, "data": data}


@router.post("/login/{user_type}", summary="Log in: {email, password} -> {userId, userType, token}")
async def login(request: Request, user_type: str):
    try:
        if user_type not in USER_TYPES:
            raise SmError(404, "not_found", f"unknown user type {user_type[:32]}")
        fields = await _fields(request)
        sim = request.app.state.sim
        row = sim.db.one(
            "SELECT * FROM sm_users WHERE user_type = ? AND email = ?",
            (user_type, str(fields.get("email") or "").strip().lower()),
        )
        if row is None or not credentials.verify_secret(
            str(fields.get("password") or ""), row["password_hash"]
        ):
            raise SmError(401, "unauthorized", "invalid email or password")
        token = credentials.sign_token(
            sim.jwt_secret, {"sub": row["id"], "type": user_type, "exp": int(time.time()) + TOKEN_TTL}
        )
        return {"userId": str(row["id"]), "userType": user_type, "token": token}
    except SmError as exc:
        return _error(exc)


@router.post("/user/{user_type}", summary="Register a user (a subscriber gets a wallet on its phone number)")
async def register(request: Request, user_type: str):
    try:
        if user_type not in USER_TYPES:
            raise SmError(404, "not_found", f"unknown user type {user_type[:32]}")
        fields = await _fields(request)
        email = str(fields.get("email") or "").strip().lower()
        password = str(fields.get("password") or "")
        first, last = str(fields.get("firstName") or "").strip(), str(fields.get("lastName") or "").strip()
        if "@" not in email or len(password) < 4 or not first:
            raise SmError(400, "validation", "firstName, email and password (4+ characters) are required")
        sim = request.app.state.sim
        with sim.db.write() as conn:
            if conn.execute(
                "SELECT 1 FROM sm_users WHERE user_type = ? AND email = ?", (user_type, email)
            ).fetchone():
                raise SmError(400, "duplicate", "a user with this email exists")
            account, phone = None, None
            if user_type == "subscriber":
                phone = directory.normalise_msisdn(str(fields.get("phoneNumber") or ""))
                spec = {"msisdn": phone, "first_name": first, "last_name": last, "email": email}
                if fields.get("passportNumber"):
                    spec.update(id_type="05", id_number=str(fields["passportNumber"]))
                try:
                    directory.upsert_wallet(conn, spec)
                except (directory.SeedError, sqlite3.IntegrityError) as exc:
                    raise SmError(400, "validation", str(exc)) from None
                account = ledger.account_id(conn, directory.wallet_ref(phone))
            user = organisation.create_sm_user(conn, user_type, email, password, first, last, phone, account)
        return _success({"userID": str(user["id"]), "userType": user_type}, "user created")
    except SmError as exc:
        return _error(exc)


def _move(
    request: Request,
    kind: str,
    payer: sqlite3.Row,
    to_ref: str,
    to_name: str,
    msisdn: str | None,
    cents: int,
    sms_for_recipient,
    sms_for_payer=None,
) -> None:
    sim = request.app.state.sim
    with sim.db.write() as conn:
        from_ref = _ref(conn, payer["account_id"])
        if from_ref is None:
            raise SmError(400, "validation", "this user holds no account")
        if from_ref == to_ref:
            raise SmError(400, "validation", "cannot send money to the same account")
        try:
            receipt, payer_after, to_after = ledger.transfer(
                conn, kind, from_ref, to_ref, cents, party_b=msisdn
            )
        except ledger.InsufficientFunds:
            raise SmError(400, "insufficient_balance", "insufficient balance") from None
        moment = receipts.now()
        payer_name = f"{payer['first_name']} {payer['last_name']}".strip().upper()
        if msisdn and sms_for_recipient:
            sms.send(conn, msisdn, sms_for_recipient(receipt, cents, payer_name, moment, to_after))
        if payer["phone"] and sms_for_payer:
            sms.send(conn, payer["phone"], sms_for_payer(receipt, cents, to_name, moment, payer_after))


@router.post(
    "/transaction/deposit", summary="Agent deposits cash into a customer: {amount, accountNo, customerType}"
)
async def deposit(request: Request):
    try:
        agent = _user(request)
        if agent["user_type"] != "agent":
            raise SmError(401, "unauthorized", "only agents can deposit")
        fields = await _fields(request)
        cents = _amount(fields)
        customer_type = str(fields.get("customerType") or "subscriber").strip().lower()
        if customer_type not in ("subscriber", "agent"):
            raise SmError(400, "validation", "customerType: subscriber or agent")
        conn = request.app.state.sim.db.conn()
        to_ref, to_name, msisdn = _find_customer(conn, fields.get("accountNo"), customer_type)
        _move(request, "deposit", agent, to_ref, to_name, msisdn, cents, sms.deposit_received)
        return _success(PROCESSING)
    except SmError as exc:
        return _error(exc)


@router.post("/transaction/transfer", summary="Customer sends money to another customer: {amount, accountNo}")
async def transfer(request: Request):
    try:
        payer = _user(request)
        fields = await _fields(request)
        cents = _amount(fields)
        conn = request.app.state.sim.db.conn()
        to_ref, to_name, msisdn = _find_customer(conn, fields.get("accountNo"), "subscriber")
        _move(
            request,
            "transfer",
            payer,
            to_ref,
            to_name,
            msisdn,
            cents,
            sms.transfer_received,
            sms.transfer_sent,
        )
        return _success(PROCESSING)
    except SmError as exc:
        return _error(exc)


@router.post("/transaction/withdraw", summary="Customer withdraws cash at an agent: {amount, agentNumber}")
async def withdraw(request: Request):
    try:
        payer = _user(request)
        fields = await _fields(request)
        cents = _amount(fields)
        conn = request.app.state.sim.db.conn()
        agent_no = fields.get("agentNumber") or fields.get("accountNo")
        to_ref, to_name, _ = _find_customer(conn, agent_no, "agent")
        _move(request, "withdraw", payer, to_ref, to_name, None, cents, None, sms.withdrawn)
        return _success(PROCESSING)
    except SmError as exc:
        return _error(exc)


@router.get("/account/balance", summary="The logged-in user's balance")
async def balance(request: Request):
    try:
        user = _user(request)
        conn = request.app.state.sim.db.conn()
        ref = _ref(conn, user["account_id"])
        cents = ledger.balance(conn, ref) if ref else 0
        data = {"userID": str(user["id"]), "balance": receipts.amount_value(cents)}
        return _success(data, f"Your current balance is {shillings(cents)}")
    except SmError as exc:
        return _error(exc)


@router.get("/account/statement", summary="The logged-in user's last 5 ledger rows")
async def statement(request: Request):
    try:
        user = _user(request)
        conn = request.app.state.sim.db.conn()
        ref = _ref(conn, user["account_id"])
        rows = conn.execute(
            "SELECT * FROM transactions WHERE status = 'completed' AND (from_account = ? OR to_account = ?)"
            " ORDER BY id DESC LIMIT 5",
            (ref, ref),
        ).fetchall()
        data = [
            {
                "transactionId": r["receipt"],
                "type": r["kind"],
                "debit": receipts.amount_value(r["amount_cents"]) if r["from_account"] == ref else 0,
                "credit": receipts.amount_value(r["amount_cents"]) if r["to_account"] == ref else 0,
                "createdAt": r["finalised_at"],
            }
            for r in rows
        ]
        return _success(data, "statement")
    except SmError as exc:
        return _error(exc)


@router.post("/admin/assign-float", summary="Administrator gives float to an agent: {accountNo, amount}")
async def assign_float(request: Request):
    try:
        admin = _user(request)
        if admin["user_type"] != "administrator":
            raise SmError(401, "unauthorized", "only administrators can assign float")
        fields = await _fields(request)
        cents = _amount(fields)
        sim = request.app.state.sim
        to_ref, _, _ = _find_customer(sim.db.conn(), fields.get("accountNo"), "agent")
        with sim.db.write() as conn:
            try:
                # Float comes out of the organisation's Working account: money is never minted here.
                ledger.transfer(conn, "float_transfer", ledger.WORKING, to_ref, cents)
            except ledger.InsufficientFunds:
                raise SmError(
                    400, "insufficient_balance", "the organisation's Working account is short"
                ) from None
        return _success({"message": "float assigned"})
    except SmError as exc:
        return _error(exc)
