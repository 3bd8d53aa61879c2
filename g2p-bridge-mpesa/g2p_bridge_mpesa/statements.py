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


def failure_reference(row, mark: str = "X") -> str:
    """The // bank reference of a failed or refused payment (it has no receipt): unique, from the
    payment's request id or its disbursement id."""
    base = (row.get("conversation_id") or row["disbursement_id"]).replace("-", "")
    return mark + "".join(ch for ch in base if ch.isalnum()).upper()[:15]


def payment_reference(row) -> str:
    """The // bank reference of a paid payment: its M-Pesa receipt, or, where M-Pesa confirmed it
    by a status answer that names none (Vodacom Mozambique's), one made from its request id."""
    return row["receipt"] or failure_reference(row, "S")


def entries_for(row) -> list[mt940.Entry]:
    amount = Decimal(row["amount"])
    day = _day(row["completed_at"])
    if row["state"] == "paid":
        return mt940.payment_entry(
            row["disbursement_id"], amount, day, payment_reference(row), row["receiver_name"]
        )
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
            "SELECT statement_ref, account_number, content FROM mpesa_bridge_statement"
            " WHERE bank_code = %s AND posted_at IS NULL"
            " ORDER BY created_at",
            [engine.code],
        )
        pending = cur.fetchall()
        busy = _accounts_in_process(cur, engine) if pending else set()
    http = session or requests
    for row in pending:
        if row["account_number"] in busy:
            continue  # one statement per account in the bridge's hands at a time (1.1.0 bug, below)
        busy.add(row["account_number"])
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


def _accounts_in_process(cur, engine: Engine) -> set:
    """Accounts with a statement of ours the bridge has not processed yet (PENDING/PROCESSING),
    where the connector's database is the bridge's; else none.

    1.1.0 bug: two statements of one envelope processed at once by two workers collide on the
    envelope's row lock (``with_for_update(nowait=True)``); the loser's ``session.rollback()``
    drops its statement's reconciliation rows, and it then adds its count to the envelope anyway
    (seen in the bridge drill: the envelope counted 7 reconciled that ``get_disbursement_status``
    never shows). Posting the next statement of an account only once the bridge processed the
    previous one keeps them apart."""
    cur.execute("SELECT to_regclass('account_statements') IS NOT NULL AS present")
    if not cur.fetchone()["present"]:
        return set()
    cur.execute(
        """
        SELECT DISTINCT s.account_number FROM mpesa_bridge_statement s
          JOIN account_statements a ON a.statement_id = s.bridge_statement_id
         WHERE s.bank_code = %s AND a.statement_process_status::text IN ('PENDING', 'PROCESSING')
        """,
        [engine.code],
    )
    return {row["account_number"] for row in cur.fetchall()}


def requeue_stuck(engine: Engine) -> list[str]:
    """Set back to PENDING the statements of ours the bridge has left PROCESSING for longer than
    ``requeue_stuck_statements_minutes`` (their mt940 worker died: 1.1.0's beat never resets a
    statement, only disbursement batches). Only where the connector's database is the bridge's
    (its ``account_statements`` table is there); otherwise nothing. A requeued statement's ``D``
    lines already applied come back as DUPLICATE_DISBURSEMENT error records, not counted again."""
    minutes = engine.settings.requeue_stuck_statements_minutes
    if not minutes:
        return []
    with engine.db.cursor() as cur:
        cur.execute("SELECT to_regclass('account_statements') IS NOT NULL AS present")
        if not cur.fetchone()["present"]:
            return []
        # updated_at is written once, at upload, in UTC without a zone (1.1.0's models).
        cur.execute(
            """
            UPDATE account_statements SET statement_process_status = 'PENDING'
             WHERE statement_process_status::text = 'PROCESSING'
               AND updated_at < (now() AT TIME ZONE 'UTC') - make_interval(secs => %s)
               AND statement_id IN (SELECT bridge_statement_id FROM mpesa_bridge_statement
                                     WHERE bank_code = %s AND bridge_statement_id IS NOT NULL)
            RETURNING statement_id
            """,
            [minutes * 60, engine.code],
        )
        requeued = [row["statement_id"] for row in cur.fetchall()]
    for statement_id in requeued:
        _logger.warning(
            "M-Pesa %s: the bridge left statement %s PROCESSING over %s minutes (its worker died?):"
            " set back to PENDING",
            engine.code,
            statement_id,
            minutes,
        )
    return requeued
