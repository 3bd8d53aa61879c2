"""The reservation ledger: M-Pesa has no hold on funds, so the connector keeps its own.

``block_funds`` writes a reservation (a ``block`` entry). Each payment of the envelope holds its
amount from that reservation before its request leaves (``mpesa_bridge_payment.held``); when
M-Pesa's result comes it ends as a ``pay`` entry, or as a ``release`` when M-Pesa failed it or it
was refused before sending. What no payment used is released when the reservation expires. For
every reservation, at every moment::

    block = pay + release + held + free,   each of them >= 0

and a closed reservation has held = free = 0, so its block is exactly its payments and releases.
All functions take a cursor inside the caller's transaction and lock the reservation row first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0.00")


class LedgerError(ValueError):
    """A hold the reservation cannot cover, or an unknown reservation."""


@dataclass(frozen=True)
class Position:
    block_reference: str
    bank_code: str
    account_number: str
    currency: str
    state: str
    block: Decimal
    pay: Decimal
    release: Decimal
    held: Decimal

    @property
    def free(self) -> Decimal:
        return self.block - self.pay - self.release - self.held

    @property
    def unspent(self) -> Decimal:
        """What of the block M-Pesa has not paid out and not given back: counts against the float."""
        return self.block - self.pay - self.release


_POSITION = """
SELECT r.block_reference, r.bank_code, r.account_number, r.currency, r.state,
       r.amount AS block, r.paid AS pay, r.released AS release, r.held
  FROM mpesa_bridge_reservation r
"""


def _position(row) -> Position:
    return Position(
        **{key: row[key] for key in ("block_reference", "bank_code", "account_number", "currency", "state")},
        **{key: Decimal(row[key]) for key in ("block", "pay", "release", "held")},
    )


_CLOSE = "UPDATE mpesa_bridge_reservation SET state = 'closed', closed_at = now() WHERE block_reference = %s"


def new_block_reference() -> str:
    return "MPB" + uuid.uuid4().hex[:13].upper()


def lock_bank(cur, bank_code: str) -> None:
    """Serialise reservations of one bank (two envelopes must not both count on one float)."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["mpesa_bridge_bank:" + bank_code])


def block(cur, bank_code: str, account_number: str, currency: str, amount: Decimal, note: str = "") -> str:
    """A new reservation of ``amount``; its reference."""
    amount = Decimal(amount)
    if amount <= 0:
        raise LedgerError("a block must be positive")
    reference = new_block_reference()
    cur.execute(
        "INSERT INTO mpesa_bridge_reservation (block_reference, bank_code, account_number, currency, amount)"
        " VALUES (%s, %s, %s, %s, %s)",
        [reference, bank_code, account_number, currency, amount],
    )
    cur.execute(
        "INSERT INTO mpesa_bridge_fund_entry (block_reference, kind, amount, note)"
        " VALUES (%s, 'block', %s, %s)",
        [reference, amount, note or None],
    )
    return reference


def position(cur, block_reference: str, lock: bool = False) -> Position | None:
    if lock:
        cur.execute(
            "SELECT 1 FROM mpesa_bridge_reservation WHERE block_reference = %s FOR UPDATE", [block_reference]
        )
        if cur.fetchone() is None:
            return None
    cur.execute(_POSITION + " WHERE r.block_reference = %s", [block_reference])
    row = cur.fetchone()
    return _position(row) if row else None


def positions(cur, bank_code: str | None = None, open_only: bool = False) -> list[Position]:
    where, params = [], []
    if bank_code:
        where.append("r.bank_code = %s")
        params.append(bank_code)
    if open_only:
        where.append("r.state = 'open'")
    sql = (
        _POSITION
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY r.created_at, r.block_reference"
    )
    cur.execute(sql, params)
    return [_position(row) for row in cur.fetchall()]


def committed(cur, bank_code: str) -> Decimal:
    """What the bank's open reservations still count on (unspent: held in flight or free)."""
    return sum((p.unspent for p in positions(cur, bank_code, open_only=True)), ZERO)


def hold(cur, block_reference: str, disbursement_id: str, amount: Decimal) -> None:
    """Hold a payment's amount from its reservation (the payment row exists, not held yet): one
    UPDATE that succeeds only if the block still has that much free."""
    amount = Decimal(amount)
    cur.execute(
        """
        UPDATE mpesa_bridge_reservation SET held = held + %s
         WHERE block_reference = %s AND state = 'open' AND amount - paid - released - held >= %s
     RETURNING block_reference
        """,
        [amount, block_reference, amount],
    )
    if cur.fetchone() is None:
        pos = position(cur, block_reference)
        if pos is None:
            raise LedgerError(
                f"funds were not blocked by this connector (block reference {block_reference!r})"
            )
        if pos.state != "open":
            raise LedgerError(f"the block {block_reference} is closed")
        raise LedgerError(
            f"{pos.currency} {amount} is more than the funds blocked still free under {block_reference} "
            f"({pos.currency} {pos.free})"
        )
    cur.execute(
        "UPDATE mpesa_bridge_payment SET held = true, updated_at = now()"
        " WHERE disbursement_id = %s AND block_reference = %s AND NOT held",
        [disbursement_id, block_reference],
    )
    if cur.rowcount != 1:
        raise LedgerError(f"payment {disbursement_id} is not an unheld payment of {block_reference}")


def _settle(cur, disbursement_id: str, kind: str, note: str) -> bool:
    cur.execute(
        "UPDATE mpesa_bridge_payment SET held = false, updated_at = now()"
        " WHERE disbursement_id = %s AND held RETURNING block_reference, amount",
        [disbursement_id],
    )
    row = cur.fetchone()
    if not row:
        return False
    column = "paid" if kind == "pay" else "released"
    cur.execute(
        f"UPDATE mpesa_bridge_reservation SET held = held - %s, {column} = {column} + %s"
        " WHERE block_reference = %s",
        [row["amount"], row["amount"], row["block_reference"]],
    )
    cur.execute(
        "INSERT INTO mpesa_bridge_fund_entry (block_reference, kind, amount, disbursement_id, note)"
        " VALUES (%s, %s, %s, %s, %s)",
        [row["block_reference"], kind, row["amount"], disbursement_id, note or None],
    )
    close_if_settled(cur, row["block_reference"])
    return True


def settle_paid(cur, disbursement_id: str, note: str = "") -> bool:
    """M-Pesa paid it: the hold becomes a payment out of the block."""
    return _settle(cur, disbursement_id, "pay", note)


def settle_released(cur, disbursement_id: str, note: str = "") -> bool:
    """Nothing was paid (failed, refused): the hold goes back."""
    return _settle(cur, disbursement_id, "release", note)


def close_if_settled(cur, block_reference: str) -> bool:
    pos = position(cur, block_reference)
    if pos and pos.state == "open" and pos.held == 0 and pos.free == 0:
        cur.execute(
            _CLOSE,
            [block_reference],
        )
        return True
    return False


def expire(cur, ttl_hours: float) -> list[str]:
    """Release what reservations older than the TTL left unused (nothing held in flight), and
    close them: a block nothing will spend (a cancelled envelope, a retried block) stops counting
    against the float."""
    cur.execute(
        "SELECT block_reference FROM mpesa_bridge_reservation WHERE state = 'open' AND held = 0"
        " AND created_at < now() - make_interval(secs => %s) FOR UPDATE SKIP LOCKED",
        [ttl_hours * 3600],
    )
    expired = []
    for row in cur.fetchall():
        pos = position(cur, row["block_reference"])
        if pos.held:
            continue
        if pos.free > 0:
            cur.execute(
                "INSERT INTO mpesa_bridge_fund_entry (block_reference, kind, amount, note)"
                " VALUES (%s, 'release', %s, 'unspent remainder released at expiry')",
                [pos.block_reference, pos.free],
            )
            cur.execute(
                "UPDATE mpesa_bridge_reservation SET released = released + %s WHERE block_reference = %s",
                [pos.free, pos.block_reference],
            )
        cur.execute(
            _CLOSE,
            [pos.block_reference],
        )
        expired.append(pos.block_reference)
    return expired


def check(cur) -> list[str]:
    """Every way the ledger fails to add up (empty when it does): for tests and ``status``."""
    problems = []
    cur.execute(
        """
        SELECT r.block_reference, r.amount, r.paid, r.released, r.held,
               COALESCE((SELECT sum(e.amount) FROM mpesa_bridge_fund_entry e
                          WHERE e.block_reference = r.block_reference AND e.kind = 'block'), 0) AS e_block,
               COALESCE((SELECT sum(e.amount) FROM mpesa_bridge_fund_entry e
                          WHERE e.block_reference = r.block_reference AND e.kind = 'pay'), 0) AS e_pay,
               COALESCE((SELECT sum(e.amount) FROM mpesa_bridge_fund_entry e
                          WHERE e.block_reference = r.block_reference AND e.kind = 'release'), 0) AS e_rel,
               COALESCE((SELECT sum(p.amount) FROM mpesa_bridge_payment p
                          WHERE p.block_reference = r.block_reference AND p.held), 0) AS p_held
          FROM mpesa_bridge_reservation r
        """
    )
    running = (("amount", "e_block"), ("paid", "e_pay"), ("released", "e_rel"), ("held", "p_held"))
    for row in cur.fetchall():
        for column, entries in running:
            if Decimal(row[column]) != Decimal(row[entries]):
                problems.append(
                    f"{row['block_reference']}: {column} {row[column]} but the entries say {row[entries]}"
                )
    for pos in positions(cur):
        for name in ("pay", "release", "held", "free"):
            if getattr(pos, name) < 0:
                problems.append(f"{pos.block_reference}: {name} {getattr(pos, name)} < 0")
        if pos.state == "closed" and (pos.held or pos.free):
            problems.append(f"{pos.block_reference}: closed with held {pos.held}, free {pos.free}")
    cur.execute(
        """
        SELECT p.disbursement_id, p.state, p.held,
               EXISTS (SELECT 1 FROM mpesa_bridge_fund_entry e WHERE e.disbursement_id = p.disbursement_id
                        AND e.kind = 'pay') AS paid_entry,
               EXISTS (SELECT 1 FROM mpesa_bridge_fund_entry e WHERE e.disbursement_id = p.disbursement_id
                        AND e.kind = 'release') AS release_entry
          FROM mpesa_bridge_payment p WHERE p.block_reference IS NOT NULL
        """
    )
    for row in cur.fetchall():
        if row["paid_entry"] and row["release_entry"]:
            problems.append(f"{row['disbursement_id']}: both paid and released")
        if row["state"] == "paid" and not row["paid_entry"]:
            problems.append(f"{row['disbursement_id']}: paid without a pay entry")
        if row["state"] in ("failed", "refused") and row["paid_entry"]:
            problems.append(f"{row['disbursement_id']}: {row['state']} with a pay entry")
        if row["state"] in ("paid", "failed", "refused") and row["held"]:
            problems.append(f"{row['disbursement_id']}: {row['state']} still held")
    return problems
