"""The M-Pesa USSD menu as a pure function of (msisdn, text) and the database.

Africa's Talking sends the whole session's input each hop (``"2*123456*100"``), so the menu is
re-derived from that text every time: earlier inputs are only navigation, and only the last
input of a hop may act (check a PIN, move money, choose the language). ``0`` goes back a step,
``00`` home. A web "phone" can drive the same ``handle`` function.

The menu speaks English or Kiswahili, the two languages M-Pesa's Kenyan menus offer (Safaricom's
own menu items are bilingual, e.g. "Activate / Wezesha"). Each wallet keeps its choice, made
under 4 My Account > 1 Language. Where Safaricom's real *334# puts that choice is not publicly
documented: the place is the simulator's.

In Ethiopia (*733#) the same menu speaks English only, in birr: Safaricom Ethiopia's menus also
offer Amharic and other languages, which the simulator does not write (no bad Amharic); the
language menu there offers English alone. Its wording is the simulator's.

Vodacom's OpenAPI markets get the same menu in their currency: Tanzania (*150*00#) in English and
Kiswahili, DR Congo (*1222#, the simulator's choice) in French, Mozambique (*150#) in Portuguese,
Lesotho (*111#) and Ghana (*110#) in English. The texts, per language and keyed by message id,
are in ``i18n``; this module only navigates.
"""

from __future__ import annotations

import sqlite3
import unicodedata

from mpesa_sim import credentials, directory, i18n, ledger, markets, receipts, sms
from mpesa_sim.receipts import shillings

MAX_SCREEN = 160


def _languages() -> tuple[str, ...]:
    return tuple(code for code, _name in i18n.languages())


def _max_amount() -> int:
    """What the till menu accepts: the market's default per-transaction maximum (in its text)."""
    return int(markets.current().limits["max_amount"])


def _t(language: str, key: str, **values) -> str:
    return i18n.menu(language, key, **values)


def _language(wallet) -> str:
    """The wallet's menu language: its choice where the market offers it, else the market's default."""
    language = wallet["language"] if wallet is not None and "language" in wallet.keys() else ""
    return language if language in _languages() else _languages()[0]


def _language_menu(lang: str) -> str:
    names = "".join(f"\n{n}. {name}" for n, (_code, name) in enumerate(i18n.languages(), 1))
    return _t(lang, "language") + names


def screen(text: str) -> str:
    """Plain ASCII, at most 160 characters: what a handset shows (accents dropped: "Numero")."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.encode("ascii", "replace").decode()
    return text if len(text) <= MAX_SCREEN else text[: MAX_SCREEN - 3] + "..."


def handle(conn: sqlite3.Connection, msisdn: str, text: str, config: dict) -> str:
    return screen(_handle(conn, directory.normalise_msisdn(msisdn), text or "", config))


def _handle(conn: sqlite3.Connection, msisdn: str, text: str, config: dict) -> str:
    wallet = conn.execute("SELECT * FROM wallets WHERE msisdn = ?", (msisdn,)).fetchone()
    lang = _language(wallet)
    if wallet is None or not wallet["registered"]:
        return "END " + _t(lang, "not_registered")
    if wallet["status"] != "active":
        return "END " + _t(lang, "frozen")
    attempts = int(config.get("ussd_pin_attempts", 3))
    if wallet["pin_failures"] >= attempts:
        return "END " + _t(lang, "locked", attempts=attempts)
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
            problem = _invalid(conn, path, token, lang)
            if not problem:
                if last and _acts(path):
                    return _act(conn, wallet, path + [token], config)
                path.append(token)
            elif not last:
                problem = ""
    return _prompt(conn, path, problem, lang)


def _invalid(conn: sqlite3.Connection, path: list[str], token: str, lang: str) -> str:
    """Why ``token`` cannot be the next input after ``path`` ('' when it can)."""
    depth = len(path)
    if depth == 0:
        return "" if token in ("1", "2", "3", "4") else _t(lang, "invalid")
    menu = path[0]
    if (menu in ("1", "3") and depth == 1) or (menu == "2" and depth == 3):
        return "" if token.isdigit() and len(token) == 4 else _t(lang, "pin_digits")
    if menu == "2" and depth == 1:
        if not conn.execute("SELECT 1 FROM tills WHERE till_number = ?", (token,)).fetchone():
            return _t(lang, "unknown_till", till=token[:10])
        return ""
    if menu == "2" and depth == 2:
        ok = token.isdigit() and 1 <= int(token) <= _max_amount()
        return "" if ok else _t(lang, "invalid_amount")
    if menu == "2" and depth == 4:
        return "" if token in ("1", "2") else _t(lang, "invalid")
    if menu == "4" and depth == 1:
        return "" if token == "1" else _t(lang, "invalid")
    if menu == "4" and depth == 2:
        choices = [str(n) for n in range(1, len(_languages()) + 1)]
        return "" if token in choices else _t(lang, "invalid")
    return _t(lang, "invalid")


def _acts(path: list[str]) -> bool:
    """True when the next input completes an action (not just navigation)."""
    return (
        (path[:1] in (["1"], ["3"]) and len(path) == 1)
        or (path[:1] == ["2"] and len(path) == 4)
        or (path[:1] == ["4"] and len(path) == 2)
    )


def _prompt(conn: sqlite3.Connection, path: list[str], problem: str, lang: str = "en") -> str:
    prefix = problem + "\n" if problem else ""
    nav = _t(lang, "nav")
    if not path:
        return "CON " + prefix + _t(lang, "home")
    menu, depth = path[0], len(path)
    if menu == "4":
        return "CON " + prefix + (_t(lang, "account") if depth == 1 else _language_menu(lang)) + nav
    if menu in ("1", "3") or depth == 3:
        return "CON " + prefix + _t(lang, "pin") + nav
    if depth == 1:
        return "CON " + prefix + _t(lang, "till") + nav
    if depth == 2:
        return "CON " + prefix + _t(lang, "amount") + nav
    till = conn.execute("SELECT name FROM tills WHERE till_number = ?", (path[1],)).fetchone()
    amount = shillings(int(path[2]) * 100)
    return "CON " + prefix + _t(lang, "confirm", amount=amount, name=till["name"][:40], till=path[1]) + nav


def _check_pin(conn: sqlite3.Connection, wallet: sqlite3.Row, pin: str, config: dict) -> str | None:
    """None when right; otherwise the END screen (and the failure is counted, in its own commit)."""
    lang = _language(wallet)
    if credentials.verify_secret(pin, wallet["pin_hash"]):
        if wallet["pin_failures"]:
            conn.execute("UPDATE wallets SET pin_failures = 0 WHERE msisdn = ?", (wallet["msisdn"],))
        return None
    attempts = int(config.get("ussd_pin_attempts", 3))
    conn.execute("UPDATE wallets SET pin_failures = pin_failures + 1 WHERE msisdn = ?", (wallet["msisdn"],))
    left = attempts - wallet["pin_failures"] - 1
    if left <= 0:
        return "END " + _t(lang, "wrong_pin_locked", attempts=attempts)
    return "END " + (_t(lang, "wrong_pin", left=left) if left != 1 else _t(lang, "wrong_pin_one"))


def _act(conn: sqlite3.Connection, wallet: sqlite3.Row, path: list[str], config: dict) -> str:
    menu = path[0]
    if menu == "2" and path[4] == "2":
        return "END " + _t(_language(wallet), "cancelled")
    if menu == "4":  # the language, no PIN needed (as a handset's menu setting)
        chosen = _languages()[int(path[2]) - 1]
        conn.execute("UPDATE wallets SET language = ? WHERE msisdn = ?", (chosen, wallet["msisdn"]))
        return "END " + _t(chosen, "language_set")
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
    lang = _language(wallet)
    if menu == "1":
        return "END " + _t(lang, "balance", balance=shillings(ledger.balance(conn, ref)))
    if menu == "3":
        return mini_statement(conn, ref, lang)
    till = conn.execute("SELECT * FROM tills WHERE till_number = ?", (path[1],)).fetchone()
    cents = int(path[2]) * 100
    balance = ledger.balance(conn, ref)
    if balance < cents:
        return "END " + _t(lang, "no_money", amount=shillings(cents), balance=shillings(balance))
    receipt, payer_after, _ = ledger.transfer(
        conn, "till_payment", ref, directory.till_ref(till["till_number"]), cents, party_b=wallet["msisdn"]
    )
    moment = receipts.now()
    sms.send(conn, wallet["msisdn"], sms.till_paid(receipt, cents, till["name"], moment, payer_after))
    return "END " + _t(
        lang,
        "paid",
        receipt=receipt,
        amount=shillings(cents),
        name=till["name"][:40],
        balance=shillings(payer_after),
    )


def mini_statement(conn: sqlite3.Connection, ref: str, lang: str = "en") -> str:
    rows = conn.execute(
        "SELECT receipt, from_account, to_account, amount_cents, finalised_at FROM transactions"
        " WHERE status = 'completed' AND (from_account = ? OR to_account = ?) ORDER BY id DESC LIMIT 4",
        (ref, ref),
    ).fetchall()
    if not rows:
        return "END " + _t(lang, "statement") + "\n" + _t(lang, "no_transactions")
    lines = ["END " + _t(lang, "statement")]
    for row in rows:
        sign = "-" if row["from_account"] == ref else "+"
        day = receipts.parse_iso(row["finalised_at"]).strftime("%d/%m")
        lines.append(f"{row['receipt']} {day} {sign}{shillings(row['amount_cents'])}")
    return "\n".join(lines)
