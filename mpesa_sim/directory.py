"""Who holds money: customer wallets (by MSISDN), vendor tills, and seeding them from files."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from typing import Any

from mpesa_sim import credentials, ledger, markets

KENYAN_MOBILE = re.compile(r"^254(7\d{8}|1\d{8})$")
ID_TYPES = {
    "01": "National ID",
    "02": "Military ID",
    "03": "Alien ID",
    "04": "Diplomatic ID",
    "05": "Passport",
}
DEFAULT_PIN = "1234"


class SeedError(ValueError):
    pass


def normalise_msisdn(raw: str) -> str:
    """2547XXXXXXXX from '+254 7..', '07..', '7..' (in Ethiopia 2517... from '07..' and so on, in
    Lesotho 2665XXXXXXX from '5XXXXXXX'); anything else is returned digits-only."""
    market = markets.current()
    digits = re.sub(r"[\s\-()]", "", str(raw)).lstrip("+")
    national = market.national_length  # 9; Lesotho's are 8
    if digits.startswith("0") and len(digits) == national + 1:
        digits = market.country_code + digits[1:]
    elif len(digits) == national and digits[0] in market.local_lead_digits:
        digits = market.country_code + digits
    return digits


def is_kenyan_mobile(msisdn: str) -> bool:
    """An M-Pesa customer's number in the process's market (Kenya's name kept for its callers)."""
    return is_market_mobile(msisdn)


def is_market_mobile(msisdn: str) -> bool:
    return bool(markets.current().mobile.match(msisdn))


def wallet_ref(msisdn: str) -> str:
    return "wallet:" + msisdn


def till_ref(till_number: str) -> str:
    return "till:" + till_number


def _cents(value: Any, field: str) -> int:
    try:
        text = str(value).strip().replace(",", "") or "0"
        whole, _, frac = text.partition(".")
        if not (whole.isdigit() and (frac == "" or (frac.isdigit() and len(frac) <= 2))):
            raise ValueError
        return int(whole) * 100 + int((frac + "00")[:2])
    except ValueError:
        raise SeedError(f"{field}: not an amount in shillings: {value!r}") from None


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "y")


def upsert_wallet(conn: sqlite3.Connection, spec: dict, pin_hashes: dict | None = None) -> dict:
    """Create or update a wallet. An opening ``balance`` is a recorded top-up of the difference.

    ``pin_hashes`` (PIN -> its salted hash), shared by the wallets of one seed call, hashes each
    distinct PIN once: a national register seeds 300,000 wallets with the same test PIN, and a
    PBKDF2 hash per wallet would take minutes."""
    pin_hashes = {} if pin_hashes is None else pin_hashes
    msisdn = normalise_msisdn(spec.get("msisdn") or spec.get("phone") or "")
    if not is_market_mobile(msisdn):
        raise SeedError(f"msisdn: not a {markets.current().number_plan}: {spec.get('msisdn')!r}")
    first = str(spec.get("first_name") or "").strip()
    last = str(spec.get("last_name") or "").strip()
    if not first and spec.get("name"):
        first, _, last = str(spec["name"]).strip().partition(" ")
    id_type = str(spec.get("id_type") or "01").zfill(2)
    if id_type not in ID_TYPES:
        raise SeedError(f"id_type: one of {', '.join(ID_TYPES)}: {spec.get('id_type')!r}")
    status = str(spec.get("status") or "active").lower()
    if status not in ("active", "frozen"):
        raise SeedError("status: active or frozen")
    existing = conn.execute("SELECT * FROM wallets WHERE msisdn = ?", (msisdn,)).fetchone()
    ref = wallet_ref(msisdn)
    display = (f"{first} {last}".strip() or msisdn).upper()
    acc = ledger.ensure_account(conn, ref, "wallet", display)
    conn.execute("UPDATE accounts SET name = ? WHERE id = ?", (display, acc))
    if existing is None:
        pin = str(spec.get("pin") or DEFAULT_PIN)
        conn.execute(
            "INSERT INTO wallets(msisdn, account_id, first_name, last_name, id_type, id_number, email,"
            " pin_hash, status, registered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                msisdn,
                acc,
                first or "CUSTOMER",
                last,
                id_type,
                str(spec.get("id_number") or ""),
                spec.get("email") or None,
                pin_hashes.get(pin) or pin_hashes.setdefault(pin, credentials.hash_secret(pin)),
                status,
                int(_bool(spec.get("registered"), True)),
            ),
        )
    else:
        updates = {
            "first_name": first or existing["first_name"],
            "last_name": last if (first or last) else existing["last_name"],
            "id_type": id_type if spec.get("id_type") else existing["id_type"],
            "id_number": str(spec["id_number"])
            if spec.get("id_number") is not None
            else existing["id_number"],
            "email": spec.get("email") or existing["email"],
            "status": status if spec.get("status") else existing["status"],
            "registered": int(_bool(spec.get("registered"), bool(existing["registered"]))),
        }
        if spec.get("pin"):
            updates["pin_hash"] = credentials.hash_secret(str(spec["pin"]))
            updates["pin_failures"] = 0
        sets = ", ".join(f"{k} = ?" for k in updates)
        conn.execute(f"UPDATE wallets SET {sets} WHERE msisdn = ?", (*updates.values(), msisdn))
    if spec.get("balance") not in (None, ""):
        wanted = _cents(spec["balance"], "balance")
        current = ledger.balance(conn, ref)
        if wanted > current:
            ledger.topup(conn, ref, wanted - current, "opening balance (seed)")
        elif wanted < current:
            raise SeedError(
                f"balance: cannot lower {msisdn} from {current / 100:.2f}; money is never destroyed"
            )
    return wallet_view(conn, msisdn)


def wallet_view(conn: sqlite3.Connection, msisdn: str) -> dict | None:
    row = conn.execute(
        "SELECT w.*, a.balance_cents FROM wallets w JOIN accounts a ON a.id = w.account_id WHERE msisdn = ?",
        (msisdn,),
    ).fetchone()
    if row is None:
        return None
    return {
        "msisdn": row["msisdn"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "id_type": row["id_type"],
        "id_number": row["id_number"],
        "email": row["email"],
        "status": row["status"],
        "registered": bool(row["registered"]),
        "pin_locked": row["pin_failures"] >= 3,
        "balance_cents": row["balance_cents"],
        "balance": row["balance_cents"] / 100,
    }


def upsert_till(conn: sqlite3.Connection, spec: dict) -> dict:
    number = str(spec.get("till_number") or "").strip()
    if not re.fullmatch(r"\d{5,7}", number):
        raise SeedError(f"till_number: 5 to 7 digits: {spec.get('till_number')!r}")
    name = str(spec.get("name") or f"TILL {number}").strip().upper()
    ref = till_ref(number)
    acc = ledger.ensure_account(conn, ref, "till", name)
    conn.execute("UPDATE accounts SET name = ? WHERE id = ?", (name, acc))
    conn.execute(
        "INSERT INTO tills(till_number, account_id, name) VALUES (?, ?, ?)"
        " ON CONFLICT(till_number) DO UPDATE SET name = excluded.name",
        (number, acc, name),
    )
    if spec.get("balance") not in (None, ""):
        wanted = _cents(spec["balance"], "balance")
        current = ledger.balance(conn, ref)
        if wanted > current:
            ledger.topup(conn, ref, wanted - current, "opening balance (seed)")
    return till_view(conn, number)


def till_view(conn: sqlite3.Connection, number: str) -> dict | None:
    row = conn.execute(
        "SELECT t.*, a.balance_cents FROM tills t JOIN accounts a ON a.id = t.account_id"
        " WHERE till_number = ?",
        (number,),
    ).fetchone()
    if row is None:
        return None
    return {
        "till_number": row["till_number"],
        "name": row["name"],
        "balance_cents": row["balance_cents"],
        "balance": row["balance_cents"] / 100,
    }


def seed(conn: sqlite3.Connection, data: dict) -> dict:
    """Apply {"wallets": [...], "tills": [...]}; all or nothing (the caller's transaction)."""
    if not isinstance(data, dict):
        raise SeedError('expected {"wallets": [...], "tills": [...]}')
    pin_hashes = {}
    wallets = [upsert_wallet(conn, _as_dict(w), pin_hashes) for w in data.get("wallets") or []]
    tills = [upsert_till(conn, _as_dict(t)) for t in data.get("tills") or []]
    return {"wallets": wallets, "tills": tills}


def _as_dict(item: Any) -> dict:
    if not isinstance(item, dict):
        raise SeedError(f"each entry must be an object, got {item!r}")
    return item


def parse_seed_file(name: str, text: str) -> dict:
    """JSON ({"wallets": [...], "tills": [...]} or a bare list of wallets) or CSV.

    CSV columns: msisdn, first_name, last_name, id_type, id_number, pin, balance, registered,
    status, email; a row with a till_number column filled in (and no msisdn) is a till.
    """
    if name.lower().endswith(".json") or text.lstrip().startswith(("{", "[")):
        data = json.loads(text)
        return {"wallets": data} if isinstance(data, list) else data
    wallets, tills = [], []
    for row in csv.DictReader(io.StringIO(text)):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if row.get("till_number") and not row.get("msisdn"):
            tills.append(row)
        else:
            wallets.append(row)
    return {"wallets": wallets, "tills": tills}
