"""M-Pesa's results as MT940 statements for the bridge's ``/upload_mt940``.

Only final payments are reported (paid, failed, refused): a payment whose outcome is unknown or
held for review is never in a statement, so never reported paid. Every line names a disbursement
the bridge itself sent (rows of the ledger come only from ``initiate_payment``): 1.1.0 crashes on a
statement line whose reference it does not know, losing the whole statement.

A statement is written once (its text kept in ``mpesa_bridge_statement``) and posted until the bridge
takes it: the same payments are never put in a second statement.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import requests

from . import mt940
from .engine import FINAL, Engine

_logger = logging.getLogger(__name__)

MAX_LINES = 2000  # payments per statement (some 300 KB: well under the bridge's 10 MB)
MAX_STATEMENTS = 50  # per pass of the serve loop


def _day(value):
    return (value or datetime.now(timezone.utc)).astimezone(timezone.utc).date()


def failure_reference(row) -> str:
    """The // bank reference of a failed or refused payment (it has no receipt): unique, from the
    payment's request id or its disbursement id."""
    base = (row.get("conversation_id") or row["disbursement_id"]).replace("-", "")
    return "X" + "".join(ch for ch in base if ch.isalnum()).upper()[:15]


def entries_for(row) -> list[mt940.Entry]:
    amount = Decimal(row["amount"])
    day = _day(row["completed_at"])
    if row["state"] == "paid":
        return mt940.payment_entry(row["disbursement_id"], amount, day, row["receipt"], row["receiver_name"])
    reason = " ".join(part for part in (row.get("result_code"), row.get("result_desc")) if part)
    return mt940.failure_entries(row["disbursement_id"], amount, day, failure_reference(row), reason)


def build(engine: Engine, limit: int = MAX_LINES, max_statements: int = MAX_STATEMENTS) -> list[str]:
    """Write statements of this bank's final, unreported payments (one per account and up to
    ``limit`` payments each), until none is left or ``max_statements`` were written."""
    made = []
    while len(made) < max_statements:
        written = _build_once(engine, limit)
        made += written
        if not written:
            break
    return made


def _build_once(engine: Engine, limit: int) -> list[str]:
    made = []
    with engine.db.cursor() as cur:
        cur.execute(
            """
            SELECT * FROM mpesa_bridge_payment
             WHERE bank_code = %s AND statement_ref IS NULL AND state = ANY(%s)
             ORDER BY account_number, completed_at, disbursement_id
             LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            [engine.code, list(FINAL), limit],
        )
        by_account: dict[str, list] = {}
        for row in cur.fetchall():
            by_account.setdefault(row["account_number"], []).append(row)
        for account, rows in by_account.items():
            if not account:
                _logger.error("M-Pesa %s: %s payments without a remitting account", engine.code, len(rows))
                continue
            cur.execute(
                "SELECT count(*) AS n FROM mpesa_bridge_statement WHERE account_number = %s", [account]
            )
            number = cur.fetchone()["n"] + 1
            balance = engine.latest_balance(cur)
            opening = balance[0] if balance else Decimal(0)
            entries = [entry for row in rows for entry in entries_for(row)]
            reference = "MP" + uuid.uuid4().hex[:14].upper()
            content = mt940.write(
                reference=reference,
                account_number=account,
                currency=rows[0]["currency"] or engine.market.currency,
                statement_number=number,
                opening_balance=opening,
                opening_date=_day(None),
                entries=entries,
            )
            cur.execute(
                "INSERT INTO mpesa_bridge_statement (statement_ref, bank_code, account_number,"
                " statement_number,"
                " content, lines) VALUES (%s, %s, %s, %s, %s, %s)",
                [reference, engine.code, account, number, content, len(entries)],
            )
            cur.execute(
                "UPDATE mpesa_bridge_payment SET statement_ref = %s, updated_at = now()"
                " WHERE disbursement_id = ANY(%s)",
                [reference, [row["disbursement_id"] for row in rows]],
            )
            made.append(reference)
            _logger.info(
                "M-Pesa %s: statement %s for account %s: %s payments",
                engine.code,
                reference,
                account,
                len(rows),
            )
    return made


def post(engine: Engine, session: requests.Session | None = None) -> list[tuple[str, str]]:
    """Post this bank's unposted statements to the bridge; [(statement ref, bridge statement id)]."""
    url = engine.settings.bridge_api_url + "/upload_mt940"
    posted = []
    with engine.db.cursor() as cur:
        cur.execute(
            "SELECT statement_ref, content FROM mpesa_bridge_statement"
            " WHERE bank_code = %s AND posted_at IS NULL"
            " ORDER BY created_at",
            [engine.code],
        )
        pending = cur.fetchall()
    http = session or requests
    for row in pending:
        error, statement_id = None, None
        try:
            response = http.post(
                url,
                files={
                    "statement_file": (f"{row['statement_ref']}.mt940", row["content"].encode(), "text/plain")
                },
                timeout=engine.settings.http_timeout_seconds,
            )
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            status = ((body or {}).get("header") or {}).get("status")
            if response.status_code == 200 and status == "succ":
                statement_id = str(body.get("message") or "")
            else:
                error = f"HTTP {response.status_code} {status or ''} {str(body.get('message') or '')[:200]}"
        except (requests.RequestException, ValueError) as exc:
            error = type(exc).__name__
        with engine.db.cursor() as cur:
            if error:
                cur.execute(
                    "UPDATE mpesa_bridge_statement SET post_attempts = post_attempts + 1, last_error = %s"
                    " WHERE statement_ref = %s",
                    [error, row["statement_ref"]],
                )
                _logger.warning(
                    "M-Pesa %s: statement %s not taken: %s", engine.code, row["statement_ref"], error
                )
            else:
                cur.execute(
                    "UPDATE mpesa_bridge_statement SET posted_at = now(), bridge_statement_id = %s,"
                    " post_attempts = post_attempts + 1, last_error = NULL WHERE statement_ref = %s",
                    [statement_id, row["statement_ref"]],
                )
                posted.append((row["statement_ref"], statement_id))
                _logger.info(
                    "M-Pesa %s: statement %s taken by the bridge as %s",
                    engine.code,
                    row["statement_ref"],
                    statement_id,
                )
    return posted
