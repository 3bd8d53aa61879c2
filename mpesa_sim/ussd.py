"""The M-Pesa USSD menu as a pure function of (msisdn, text) and the database.

Africa's Talking sends the whole session's input each hop (``"2*123456*100"``), so the menu is
re-derived from that text every time: earlier inputs are only navigation, and only the last
input of a hop may act (check a PIN, move money). ``0`` goes back a step, ``00`` home. A web
"phone" can drive the same ``handle`` function.
"""

from __future__ import annotations

import sqlite3

from mpesa_sim import credentials, directory, ledger, receipts, sms
from mpesa_sim.receipts import shillings

MAX_SCREEN = 160
NAV = "\n0 Back 00 Home"
HOME = "CON M-PESA\n1. Check balance\n2. Lipa na M-PESA (pay till)\n3. Mini statement"
PIN_PROMPT = "CON Enter M-PESA PIN:" + NAV


def screen(text: str) -> str:
    """Plain ASCII, at most 160 characters: what a handset shows."""
    text = text.encode("ascii", "replace").decode()
    return text if len(text) <= MAX_SCREEN else text[: MAX_SCREEN - 3] + "..."


def handle(conn: sqlite3.Connection, msisdn: str, text: str, config: dict) -> str:
    return screen(_handle(conn, directory.normalise_msisdn(msisdn), text or "", config))


def _handle(conn: sqlite3.Connection, msisdn: str, text: str, config: dict) -> str:
    wallet = conn.execute("SELECT * FROM wallets WHERE msisdn = ?", (msisdn,)).fetchone()
    if wallet is None or not wallet["registered"]:
        return "END This number is not registered for M-PESA."
    if wallet["status"] != "active":
        return "END Your M-PESA account is frozen. Call 100 for help."
    attempts = int(config.get("ussd_pin_attempts", 3))
    if wallet["pin_failures"] >= attempts:
        return f"END Your M-PESA PIN is locked after {attempts} wrong attempts. Call 100 to reset it."
    tokens = [t.strip() for t in text.split("*")] if text else []
    path: list[str] = []
    problem = ""
    for index, token in enumerate(tokens):
        last = index == len(tokens) - 1
        if token == "00":
            path, problem = [], ""
        elif token == "0" and path:
            path.pop()
            problem = ""
        else:
            problem = _invalid(conn, path, token)
            if not problem:
                if last and _acts(path):
                    return _act(conn, wallet, path + [token], config)
                path.append(token)
            elif not last:
                problem = ""
    return _prompt(conn, path, problem)


def _invalid(conn: sqlite3.Connection, path: list[str], token: str) -> str:
    """Why ``token`` cannot be the next input after ``path`` ('' when it can)."""
    depth = len(path)
    if depth == 0:
        return "" if token in ("1", "2", "3") else "Invalid choice."
    menu = path[0]
    if (menu in ("1", "3") and depth == 1) or (menu == "2" and depth == 3):
        return "" if token.isdigit() and len(token) == 4 else "A PIN is 4 digits."
    if menu == "2" and depth == 1:
        if not conn.execute("SELECT 1 FROM tills WHERE till_number = ?", (token,)).fetchone():
            return f"Unknown till number {token[:10]}."
        return ""
    if menu == "2" and depth == 2:
        ok = token.isdigit() and 1 <= int(token) <= 250_000
        return "" if ok else "Invalid amount. Enter whole shillings, 1 to 250,000."
    if menu == "2" and depth == 4:
        return "" if token in ("1", "2") else "Invalid choice."
    return "Invalid choice."


def _acts(path: list[str]) -> bool:
    """True when the next input completes an action (not just navigation)."""
    return (path[:1] in (["1"], ["3"]) and len(path) == 1) or (path[:1] == ["2"] and len(path) == 4)


def _prompt(conn: sqlite3.Connection, path: list[str], problem: str) -> str:
    prefix = problem + "\n" if problem else ""
    if not path:
        return HOME if not problem else "CON " + prefix + HOME[4:]
    menu, depth = path[0], len(path)
    if menu in ("1", "3") or depth == 3:
        return "CON " + prefix + PIN_PROMPT[4:]
    if depth == 1:
        return "CON " + prefix + "Enter till number:" + NAV
    if depth == 2:
        return "CON " + prefix + "Enter amount (Ksh):" + NAV
    till = conn.execute("SELECT name FROM tills WHERE till_number = ?", (path[1],)).fetchone()
    return (
        "CON " + prefix + f"Pay Ksh{shillings(int(path[2]) * 100)} to {till['name'][:40]} till {path[1]}?"
        "\n1. Confirm\n2. Cancel" + NAV
    )


def _check_pin(conn: sqlite3.Connection, wallet: sqlite3.Row, pin: str, config: dict) -> str | None:
    """None when right; otherwise the END screen (and the failure is counted, in its own commit)."""
    if credentials.verify_secret(pin, wallet["pin_hash"]):
        if wallet["pin_failures"]:
            conn.execute("UPDATE wallets SET pin_failures = 0 WHERE msisdn = ?", (wallet["msisdn"],))
        return None
    attempts = int(config.get("ussd_pin_attempts", 3))
    conn.execute("UPDATE wallets SET pin_failures = pin_failures + 1 WHERE msisdn = ?", (wallet["msisdn"],))
    left = attempts - wallet["pin_failures"] - 1
    if left <= 0:
        return f"END Wrong PIN. Your M-PESA PIN is now locked after {attempts} wrong attempts. Call 100."
    return f"END Wrong PIN. {left} attempt{'s' if left != 1 else ''} left."


def _act(conn: sqlite3.Connection, wallet: sqlite3.Row, path: list[str], config: dict) -> str:
    menu = path[0]
    if menu == "2" and path[4] == "2":
        return "END Cancelled. No money was sent."
    conn.execute("BEGIN IMMEDIATE")
    try:
        answer = _act_locked(conn, wallet, path, config)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return answer


def _act_locked(conn: sqlite3.Connection, wallet: sqlite3.Row, path: list[str], config: dict) -> str:
    menu = path[0]
    pin = path[3] if menu == "2" else path[1]
    # Re-read under the write lock: a parallel session may have just counted a wrong PIN.
    wallet = conn.execute("SELECT * FROM wallets WHERE msisdn = ?", (wallet["msisdn"],)).fetchone()
    wrong = _check_pin(conn, wallet, pin, config)
    if wrong:
        return wrong
    ref = directory.wallet_ref(wallet["msisdn"])
    if menu == "1":
        return f"END Your M-PESA balance is Ksh{shillings(ledger.balance(conn, ref))}."
    if menu == "3":
        return mini_statement(conn, ref)
    till = conn.execute("SELECT * FROM tills WHERE till_number = ?", (path[1],)).fetchone()
    cents = int(path[2]) * 100
    balance = ledger.balance(conn, ref)
    if balance < cents:
        return (
            f"END Failed. You do not have enough money to pay Ksh{shillings(cents)}."
            f" Your M-PESA balance is Ksh{shillings(balance)}."
        )
    receipt, payer_after, _ = ledger.transfer(
        conn, "till_payment", ref, directory.till_ref(till["till_number"]), cents, party_b=wallet["msisdn"]
    )
    moment = receipts.now()
    sms.send(conn, wallet["msisdn"], sms.till_paid(receipt, cents, till["name"], moment, payer_after))
    return (
        f"END {receipt} Confirmed. Ksh{shillings(cents)} paid to {till['name'][:40]}."
        f" New balance Ksh{shillings(payer_after)}."
    )


def mini_statement(conn: sqlite3.Connection, ref: str) -> str:
    rows = conn.execute(
        "SELECT receipt, from_account, to_account, amount_cents, finalised_at FROM transactions"
        " WHERE status = 'completed' AND (from_account = ? OR to_account = ?) ORDER BY id DESC LIMIT 4",
        (ref, ref),
    ).fetchall()
    if not rows:
        return "END M-PESA mini statement\nNo transactions yet."
    lines = ["END M-PESA mini statement"]
    for row in rows:
        sign = "-" if row["from_account"] == ref else "+"
        day = receipts.parse_iso(row["finalised_at"]).strftime("%d/%m")
        lines.append(f"{row['receipt']} {day} {sign}{shillings(row['amount_cents'])}")
    return "\n".join(lines)
