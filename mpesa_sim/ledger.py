"""Money: integer cents in accounts, moved only inside the caller's write transaction.

Money enters the system only through a recorded top-up (``topups``), so at every moment
``sum(accounts.balance_cents) == sum(topups.amount_cents)``: ``check_invariant`` verifies it.

The organisation's own accounts (Utility, Working) also keep a journal (``account_entries``):
every change of their balance, with the balance after it, written in the same transaction as
the change. Writers are serialised, so the journal's order is the order of the balances, and
the statement export reads it as it is.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from mpesa_sim import receipts

UTILITY = "org:utility"
WORKING = "org:working"
ORG_ACCOUNTS = (UTILITY, WORKING)


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
    moment = receipts.iso()
    topup_id = conn.execute(
        "INSERT INTO topups(account_id, amount_cents, reason, created_at) VALUES (?, ?, ?, ?)",
        (acc, cents, reason, moment),
    ).lastrowid
    if ref in ORG_ACCOUNTS:
        _assign_topup_receipt(conn, topup_id)
        _entry(conn, ref, cents, balance(conn, ref), moment, topup_id=topup_id)


def _assign_topup_receipt(conn: sqlite3.Connection, topup_id: int) -> None:
    while True:
        try:
            conn.execute("UPDATE topups SET receipt = ? WHERE id = ?", (receipts.new_receipt(), topup_id))
            return
        except sqlite3.IntegrityError:
            continue


def _entry(
    conn: sqlite3.Connection,
    ref: str,
    signed_cents: int,
    after_cents: int,
    at: str,
    transaction_id: int | None = None,
    topup_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO account_entries(account_ref, transaction_id, topup_id, amount_cents,"
        " balance_after_cents, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (ref, transaction_id, topup_id, signed_cents, after_cents, at),
    )


def journal(
    conn: sqlite3.Connection,
    transaction_id: int,
    from_ref: str,
    to_ref: str,
    cents: int,
    from_after: int,
    to_after: int,
    at: str,
) -> None:
    """The journal entries of a completed move (those of the organisation's accounts).

    Called in the transaction that made the move, with the balances ``move`` returned and the
    transaction's completion time.
    """
    if from_ref in ORG_ACCOUNTS:
        _entry(conn, from_ref, -cents, from_after, at, transaction_id=transaction_id)
    if to_ref in ORG_ACCOUNTS:
        _entry(conn, to_ref, cents, to_after, at, transaction_id=transaction_id)


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
    journal(conn, txn, from_ref, to_ref, cents, from_after, to_after, moment)
    return assign_receipt(conn, txn), from_after, to_after


def received_since(conn: sqlite3.Connection, ref: str, since_iso: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) AS total FROM transactions"
        " WHERE to_account = ? AND status = 'completed' AND finalised_at >= ?",
        (ref, since_iso),
    ).fetchone()
    return row["total"]


def journal_missing(conn: sqlite3.Connection) -> bool:
    """A database file older than the journal: org accounts have history but no entries."""
    if conn.execute("SELECT 1 FROM account_entries LIMIT 1").fetchone():
        return False
    marks = ", ".join("?" for _ in ORG_ACCOUNTS)
    return bool(
        conn.execute(
            f"SELECT 1 FROM topups t JOIN accounts a ON a.id = t.account_id WHERE a.ref IN ({marks}) LIMIT 1",
            ORG_ACCOUNTS,
        ).fetchone()
    )


def rebuild_journal(conn: sqlite3.Connection) -> None:
    """Replay the org accounts' recorded history into the journal (a database upgrade).

    Top-ups and completed transactions in the order of their times: the running balances end
    at the accounts' balances (conservation), and each entry's balance follows from the one
    before. Top-ups made before receipts existed get one now.
    """
    for ref in ORG_ACCOUNTS:
        acc = account_id(conn, ref)
        if acc is None:
            continue
        events = []
        for row in conn.execute(
            "SELECT id, amount_cents, created_at, receipt FROM topups WHERE account_id = ?", (acc,)
        ).fetchall():
            if row["receipt"] is None:
                _assign_topup_receipt(conn, row["id"])
            events.append((row["created_at"], 0, row["id"], row["amount_cents"]))
        for row in conn.execute(
            "SELECT id, from_account, amount_cents, COALESCE(finalised_at, created_at) AS at"
            " FROM transactions WHERE status = 'completed' AND (from_account = ? OR to_account = ?)",
            (ref, ref),
        ).fetchall():
            signed = -row["amount_cents"] if row["from_account"] == ref else row["amount_cents"]
            events.append((row["at"], 1, row["id"], signed))
        running = 0
        for at, source, row_id, signed in sorted(events):
            running += signed
            if source == 0:
                _entry(conn, ref, signed, running, at, topup_id=row_id)
            else:
                _entry(conn, ref, signed, running, at, transaction_id=row_id)


def check_invariant(conn: sqlite3.Connection) -> dict:
    total = conn.execute("SELECT COALESCE(SUM(balance_cents), 0) AS s FROM accounts").fetchone()["s"]
    minted = conn.execute("SELECT COALESCE(SUM(amount_cents), 0) AS s FROM topups").fetchone()["s"]
    negative = conn.execute("SELECT COUNT(*) AS n FROM accounts WHERE balance_cents < 0").fetchone()["n"]
    # The journal agrees with the balances: its entries add up to each, the last says it.
    journal_ok = True
    for ref in ORG_ACCOUNTS:
        row = conn.execute(
            "SELECT COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS s, (SELECT balance_after_cents"
            " FROM account_entries WHERE account_ref = ? ORDER BY id DESC LIMIT 1) AS last"
            " FROM account_entries WHERE account_ref = ?",
            (ref, ref),
        ).fetchone()
        if row["n"] and not (row["s"] == row["last"] == balance(conn, ref)):
            journal_ok = False
    return {
        "total_balance_cents": total,
        "total_topups_cents": minted,
        "negative_accounts": negative,
        "journal_ok": journal_ok,
        "ok": total == minted and negative == 0 and journal_ok,
    }
