"""Money: integer cents in accounts, moved only inside the caller's write transaction.

Money enters the system only through a recorded top-up (``topups``), so at every moment
``sum(accounts.balance_cents) == sum(topups.amount_cents)``: ``check_invariant`` verifies it.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from mpesa_sim import receipts

UTILITY = "org:utility"
WORKING = "org:working"


class InsufficientFunds(Exception):
    pass


def ensure_account(conn: sqlite3.Connection, ref: str, kind: str, name: str) -> int:
    row = conn.execute("SELECT id FROM accounts WHERE ref = ?", (ref,)).fetchone()
    if row:
        return row["id"]
    return conn.execute(
        "INSERT INTO accounts(ref, kind, name, balance_cents) VALUES (?, ?, ?, 0)", (ref, kind, name)
    ).lastrowid


def account_id(conn: sqlite3.Connection, ref: str) -> int | None:
    row = conn.execute("SELECT id FROM accounts WHERE ref = ?", (ref,)).fetchone()
    return row["id"] if row else None


def balance(conn: sqlite3.Connection, ref: str) -> int:
    row = conn.execute("SELECT balance_cents FROM accounts WHERE ref = ?", (ref,)).fetchone()
    return row["balance_cents"] if row else 0


def topup(conn: sqlite3.Connection, ref: str, cents: int, reason: str) -> None:
    """The only way money enters: recorded, so the conservation invariant stays checkable."""
    if cents <= 0:
        raise ValueError("a top-up must be positive")
    acc = account_id(conn, ref)
    if acc is None:
        raise KeyError(ref)
    conn.execute("UPDATE accounts SET balance_cents = balance_cents + ? WHERE id = ?", (cents, acc))
    conn.execute(
        "INSERT INTO topups(account_id, amount_cents, reason, created_at) VALUES (?, ?, ?, ?)",
        (acc, cents, reason, receipts.iso()),
    )


def move(conn: sqlite3.Connection, from_ref: str, to_ref: str, cents: int) -> tuple[int, int]:
    """Debit and credit in the caller's transaction; returns the two new balances.

    The debit is a conditional UPDATE, so even a caller that forgot BEGIN IMMEDIATE could not
    overdraw: the balance check and the write are one statement.
    """
    if cents <= 0:
        raise ValueError("amount must be positive")
    cur = conn.execute(
        "UPDATE accounts SET balance_cents = balance_cents - ? WHERE ref = ? AND balance_cents >= ?",
        (cents, from_ref, cents),
    )
    if cur.rowcount != 1:
        raise InsufficientFunds(from_ref)
    cur = conn.execute("UPDATE accounts SET balance_cents = balance_cents + ? WHERE ref = ?", (cents, to_ref))
    if cur.rowcount != 1:
        raise KeyError(to_ref)
    return balance(conn, from_ref), balance(conn, to_ref)


def insert_transaction(conn: sqlite3.Connection, **fields: Any) -> int:
    fields.setdefault("created_at", receipts.iso())
    if "request_json" in fields and not isinstance(fields["request_json"], str | None):
        fields["request_json"] = json.dumps(fields["request_json"])
    cols = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    return conn.execute(
        f"INSERT INTO transactions({cols}) VALUES ({marks})", tuple(fields.values())
    ).lastrowid


def assign_receipt(conn: sqlite3.Connection, txn_id: int) -> str:
    """A fresh unique receipt; a collision (1 in 36^7 per day) just draws again."""
    while True:
        receipt = receipts.new_receipt()
        try:
            conn.execute("UPDATE transactions SET receipt = ? WHERE id = ?", (receipt, txn_id))
            return receipt
        except sqlite3.IntegrityError:
            continue


def transfer(
    conn: sqlite3.Connection, kind: str, from_ref: str, to_ref: str, cents: int, **fields: Any
) -> tuple[str, int, int]:
    """A complete, immediately completed transfer (USSD, simple-mpesa): receipt and balances."""
    from_after, to_after = move(conn, from_ref, to_ref, cents)
    moment = receipts.iso()
    txn = insert_transaction(
        conn,
        kind=kind,
        from_account=from_ref,
        to_account=to_ref,
        amount_cents=cents,
        status="completed",
        result_code="0",
        result_desc="The service request is processed successfully.",
        created_at=moment,
        finalised_at=moment,
        **fields,
    )
    return assign_receipt(conn, txn), from_after, to_after


def received_since(conn: sqlite3.Connection, ref: str, since_iso: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) AS total FROM transactions"
        " WHERE to_account = ? AND status = 'completed' AND finalised_at >= ?",
        (ref, since_iso),
    ).fetchone()
    return row["total"]


def check_invariant(conn: sqlite3.Connection) -> dict:
    total = conn.execute("SELECT COALESCE(SUM(balance_cents), 0) AS s FROM accounts").fetchone()["s"]
    minted = conn.execute("SELECT COALESCE(SUM(amount_cents), 0) AS s FROM topups").fetchone()["s"]
    negative = conn.execute("SELECT COUNT(*) AS n FROM accounts WHERE balance_cents < 0").fetchone()["n"]
    return {
        "total_balance_cents": total,
        "total_topups_cents": minted,
        "negative_accounts": negative,
        "ok": total == minted and negative == 0,
    }
