"""What the connector holds, for a person: ``g2p-bridge-mpesa status``.

Held payments are those the bridge has not been told about because their outcome is not final:
``review`` (M-Pesa gave no final answer after every status query, or answered in a way that
needs a person), ``unknown`` and ``accepted`` (still being asked about), ``reserved`` (waiting to be
sent again). None of them is ever reported paid until M-Pesa says so.
"""

from __future__ import annotations

import json
from decimal import Decimal

from . import ledger
from .db import Database

HELD = ("review", "unknown", "accepted", "reserved")


def collect(db: Database) -> dict:
    with db.cursor() as cur:
        cur.execute(
            "SELECT bank_code, state, count(*) AS n, COALESCE(sum(amount), 0) AS amount"
            " FROM mpesa_bridge_payment"
            " GROUP BY bank_code, state ORDER BY bank_code, state"
        )
        states = [dict(row) for row in cur.fetchall()]
        cur.execute(
            "SELECT disbursement_id, bank_code, state, currency, amount, msisdn, conversation_id,"
            " result_code,"
            " result_desc, status_queries, created_at, updated_at FROM mpesa_bridge_payment"
            " WHERE state = ANY(%s) ORDER BY state = 'review' DESC, created_at",
            [list(HELD)],
        )
        held = [dict(row) for row in cur.fetchall()]
        cur.execute(
            "SELECT count(*) AS n FROM mpesa_bridge_payment WHERE state IN ('paid', 'failed', 'refused')"
            " AND statement_ref IS NULL"
        )
        unreported = cur.fetchone()["n"]
        cur.execute(
            "SELECT statement_ref, bank_code, account_number, lines, post_attempts, last_error"
            " FROM mpesa_bridge_statement"
            " WHERE posted_at IS NULL ORDER BY created_at"
        )
        unposted = [dict(row) for row in cur.fetchall()]
        cur.execute("SELECT bank_code, blocked_reason, blocked_at FROM mpesa_bridge_bank_state")
        stopped = [dict(row) for row in cur.fetchall()]
        reservations = [
            {
                "block_reference": p.block_reference,
                "bank_code": p.bank_code,
                "account_number": p.account_number,
                "currency": p.currency,
                "state": p.state,
                "block": p.block,
                "pay": p.pay,
                "release": p.release,
                "held": p.held,
                "free": p.free,
            }
            for p in ledger.positions(cur)
        ]
        problems = ledger.check(cur)
    return {
        "payments": states,
        "held": held,
        "unreported_final": unreported,
        "unposted_statements": unposted,
        "stopped_banks": stopped,
        "reservations": reservations,
        "ledger_problems": problems,
    }


def _money(value) -> str:
    return f"{Decimal(value):,.2f}"


def render(data: dict) -> str:
    out = ["Payments by state:"]
    for row in data["payments"] or [{"bank_code": "-", "state": "none", "n": 0, "amount": 0}]:
        out.append(f"  {row['bank_code']:<12} {row['state']:<9} {row['n']:>7}  {_money(row['amount']):>18}")
    out.append(f"\nHeld (outcome not final, never reported paid): {len(data['held'])}")
    for row in data["held"]:
        out.append(
            f"  {row['disbursement_id']:<18} {row['bank_code']:<10} {row['state']:<8} {row['currency']} "
            f"{_money(row['amount'])}  request {row['conversation_id']}  {row['result_code'] or ''} "
            f"{(row['result_desc'] or '')[:80]}"
        )
    out.append(f"\nFinal, not yet in a statement: {data['unreported_final']}")
    out.append(f"Statements not taken by the bridge: {len(data['unposted_statements'])}")
    for row in data["unposted_statements"]:
        out.append(
            f"  {row['statement_ref']} {row['account_number']} ({row['post_attempts']} tries) "
            f"{row['last_error'] or ''}"
        )
    for row in data["stopped_banks"]:
        out.append(
            f"\nSENDING STOPPED for {row['bank_code']} since {row['blocked_at']}: {row['blocked_reason']}"
        )
    out.append("\nReservations (block = pay + release + held + free):")
    for row in data["reservations"]:
        out.append(
            f"  {row['block_reference']} {row['bank_code']:<10} {row['state']:<6} {row['currency']} "
            f"block {_money(row['block'])} = pay {_money(row['pay'])} + release {_money(row['release'])}"
            f" + held {_money(row['held'])} + free {_money(row['free'])}"
        )
    out.append("\nLedger adds up." if not data["ledger_problems"] else "\nLEDGER PROBLEMS:")
    out.extend(f"  {problem}" for problem in data["ledger_problems"])
    return "\n".join(out)


def as_json(data: dict) -> str:
    return json.dumps(data, default=str, indent=2)
