"""What every API family applies alike on the shared ledger: the recipient's limits, the
lost_result flag, and the reason types B2C payments carry (in Daraja's requests and in the
organisation's statement).

A lower-layer module: it imports no API family and no route (tests/test_sim_layering.py).
"""

from __future__ import annotations

import sqlite3

from mpesa_sim import directory, ledger, receipts

# Daraja's B2C CommandIDs and the Reason Type each one shows in the statement; a payment that
# names none (an OpenAPI one) is a BusinessPayment.
B2C_COMMANDS = {
    "BusinessPayment": "Business Payment to Customer via API",
    "SalaryPayment": "Salary Payment via API",
    "PromotionPayment": "Promotion Payment via API",
}


def recipient_limit_breach(
    conn: sqlite3.Connection, cfg: dict, msisdn: str, wallet, cents: int
) -> str | None:
    """Which of the recipient's limits a payment of ``cents`` would break: "daily" (received
    today), "cap" (wallet balance), or None. Each API answers it with its own code."""
    midnight = receipts.now().replace(hour=0, minute=0, second=0, microsecond=0)
    received_today = ledger.received_since(conn, directory.wallet_ref(msisdn), receipts.iso(midnight))
    if received_today + cents > int(cfg["recipient_daily_limit"]) * 100:
        return "daily"
    if wallet["balance_cents"] + cents > int(cfg["recipient_balance_cap"]) * 100:
        return "cap"
    return None


def mark_silent(conn: sqlite3.Connection, txn_id: int) -> None:
    """Fault lost_result: stored, so a restart keeps every later status query unanswered."""
    conn.execute("UPDATE transactions SET silent = 1 WHERE id = ?", (txn_id,))
