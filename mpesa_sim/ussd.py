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
Kiswahili, DR Congo (*1222#, the simulator's choice), Lesotho (*111#) and Ghana (*110#) in English.
"""

from __future__ import annotations

import sqlite3

from mpesa_sim import credentials, directory, ledger, markets, receipts, sms
from mpesa_sim.receipts import shillings

MAX_SCREEN = 160
LANGUAGES = ("en", "sw")
# Every text a handset shows, per language. {placeholders} are filled in by the caller.
TEXT = {
    "en": {
        "nav": "\n0 Back 00 Home",
        "home": "M-PESA\n1. Check balance\n2. Lipa na M-PESA (pay till)\n3. Mini statement\n4. My Account",
        "pin": "Enter M-PESA PIN:",
        "till": "Enter till number:",
        "amount": "Enter amount (Ksh):",
        "confirm": "Pay Ksh{amount} to {name} till {till}?\n1. Confirm\n2. Cancel",
        "account": "My Account\n1. Language",
        "language": "Choose language\n1. English\n2. Kiswahili",
        "language_set": "Your M-PESA language is now English.",
        "invalid": "Invalid choice.",
        "pin_digits": "A PIN is 4 digits.",
        "unknown_till": "Unknown till number {till}.",
        "invalid_amount": "Invalid amount. Enter whole shillings, 1 to 250,000.",
        "not_registered": "This number is not registered for M-PESA.",
        "frozen": "Your M-PESA account is frozen. Call 100 for help.",
        "locked": "Your M-PESA PIN is locked after {attempts} wrong attempts. Call 100 to reset it.",
        "wrong_pin_locked": (
            "Wrong PIN. Your M-PESA PIN is now locked after {attempts} wrong attempts. Call 100."
        ),
        "wrong_pin": "Wrong PIN. {left} attempts left.",
        "wrong_pin_one": "Wrong PIN. 1 attempt left.",
        "balance": "Your M-PESA balance is Ksh{balance}.",
        "cancelled": "Cancelled. No money was sent.",
        "no_money": (
            "Failed. You do not have enough money to pay Ksh{amount}. Your M-PESA balance is Ksh{balance}."
        ),
        "paid": "{receipt} Confirmed. Ksh{amount} paid to {name}. New balance Ksh{balance}.",
        "statement": "M-PESA mini statement",
        "no_transactions": "No transactions yet.",
    },
    "sw": {
        "nav": "\n0 Rudi 00 Mwanzo",
        "home": "M-PESA\n1. Angalia salio\n2. Lipa na M-PESA (till)\n3. Taarifa fupi\n4. Akaunti Yangu",
        "pin": "Weka PIN ya M-PESA:",
        "till": "Weka nambari ya till:",
        "amount": "Weka kiasi (Ksh):",
        "confirm": "Lipa Ksh{amount} kwa {name} till {till}?\n1. Thibitisha\n2. Ghairi",
        "account": "Akaunti Yangu\n1. Lugha",
        "language": "Chagua lugha\n1. English\n2. Kiswahili",
        "language_set": "Lugha yako ya M-PESA sasa ni Kiswahili.",
        "invalid": "Chaguo si sahihi.",
        "pin_digits": "PIN ni tarakimu 4.",
        "unknown_till": "Nambari ya till {till} haijulikani.",
        "invalid_amount": "Kiasi si sahihi. Weka shilingi kamili, 1 hadi 250,000.",
        "not_registered": "Nambari hii haijasajiliwa kwa M-PESA.",
        "frozen": "Akaunti yako ya M-PESA imesimamishwa. Piga 100 kwa msaada.",
        "locked": "PIN yako ya M-PESA imefungwa baada ya majaribio {attempts} yasiyo sahihi. Piga 100.",
        "wrong_pin_locked": (
            "PIN si sahihi. PIN yako ya M-PESA sasa imefungwa baada ya majaribio {attempts}. Piga 100."
        ),
        "wrong_pin": "PIN si sahihi. Umebakiza majaribio {left}.",
        "wrong_pin_one": "PIN si sahihi. Umebakiza jaribio 1.",
        "balance": "Salio lako la M-PESA ni Ksh{balance}.",
        "cancelled": "Umeghairi. Hakuna pesa iliyotumwa.",
        "no_money": (
            "Imeshindikana. Huna pesa za kutosha kulipa Ksh{amount}. Salio lako la M-PESA ni Ksh{balance}."
        ),
        "paid": "{receipt} Imethibitishwa. Ksh{amount} imelipwa kwa {name}. Salio jipya Ksh{balance}.",
        "statement": "Taarifa fupi ya M-PESA",
        "no_transactions": "Hakuna miamala bado.",
    },
}


# Ethiopia: Kenya's English menu in birr, without Kenya's brand names and help line.
_ET_REPLACE = (
    ("Ksh", "ETB "),
    ("Lipa na M-PESA (pay till)", "Pay merchant (till)"),
    ("whole shillings, 1 to 250,000", "whole birr, 1 to 150,000"),
    ("Call 100 for help", "Contact customer care"),
    ("Call 100 to reset it", "Contact customer care to reset it"),
    ("Call 100", "Contact customer care"),
)


def _ethiopian(text: str) -> str:
    for old, new in _ET_REPLACE:
        text = text.replace(old, new)
    return text


TEXT_ET = {
    "en": {
        **{key: _ethiopian(value) for key, value in TEXT["en"].items()},
        "language": "Choose language\n1. English",
    }
}

# Vodacom's markets: Kenya's menu in the market's currency, limit and help line; Tanzania's in
# English and Kiswahili ("Lipa kwa M-PESA"), the others in English only. The wording is the
# simulator's (the real menus are not public).
_UNITS = {
    "TZ": ("shillings", "shilingi"),
    "CD": ("dollars", None),
    "LS": ("maloti", None),
    "GH": ("cedis", None),
    "MZ": ("meticais", None),
}


def _vodacom_texts(market: markets.Market) -> dict:
    maximum = f"{int(market.limits['max_amount']):,}"
    unit, unit_sw = _UNITS[market.code]
    help_line = market.help_line
    replace = (
        ("Ksh", market.money),
        ("Lipa na M-PESA (pay till)", "Lipa kwa M-PESA (pay till)" if unit_sw else "Pay merchant (till)"),
        ("Lipa na M-PESA (till)", "Lipa kwa M-PESA (till)"),
        ("whole shillings, 1 to 250,000", f"whole {unit}, 1 to {maximum}"),
        ("shilingi kamili, 1 hadi 250,000", f"{unit_sw} kamili, 1 hadi {maximum}"),
        ("Call 100 for help", f"{help_line} for help"),
        ("Call 100 to reset it", f"{help_line} to reset it"),
        ("Call 100", help_line),
    )

    def local(text: str) -> str:
        for old, new in replace:
            text = text.replace(old, new)
        return text

    texts = {}
    for code, _name in market.languages:
        texts[code] = {key: local(value) for key, value in TEXT[code].items()}
    if len(market.languages) == 1:
        texts["en"]["language"] = "Choose language\n1. English"
    return texts


TEXTS = {
    "KE": TEXT,
    "ET": TEXT_ET,
    **{code: _vodacom_texts(markets.MARKETS[code]) for code in _UNITS},
}


def _texts() -> dict:
    return TEXTS.get(markets.current().code, TEXT)


def _languages() -> tuple[str, ...]:
    return tuple(code for code, _name in markets.current().languages)


def _max_amount() -> int:
    """What the till menu accepts: the market's default per-transaction maximum (in its text)."""
    return int(markets.current().limits["max_amount"])


def _t(language: str, key: str, **values) -> str:
    texts = _texts()
    return texts.get(language, texts["en"])[key].format(**values)


def _language(wallet) -> str:
    language = wallet["language"] if wallet is not None and "language" in wallet.keys() else "en"
    return language if language in _languages() else "en"


def screen(text: str) -> str:
    """Plain ASCII, at most 160 characters: what a handset shows."""
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
        return "CON " + prefix + _t(lang, "account" if depth == 1 else "language") + nav
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
    lang = _language(wallet)
    """None when right; otherwise the END screen (and the failure is counted, in its own commit)."""
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
