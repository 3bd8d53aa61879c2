"""mpesa_wire's :class:`~mpesa_wire.Throttle` kept in PostgreSQL: every Celery worker process and the
result listener of one connector share one requests-per-second budget per app and shortcode
(``config.budget_key``), and one pause when M-Pesa says "too many". The same design as the Odoo
addon's rate budget, in the connector's own table."""

from __future__ import annotations

import time

from mpesa_wire import NO_THROTTLE

from .db import Database


class PgThrottle:
    def __init__(self, db: Database, key: str, per_second: float):
        self.db = db
        self.key = key
        self.interval = 1.0 / per_second

    def wait(self) -> None:
        with self.db.cursor() as cur:
            cur.execute(
                "INSERT INTO mpesa_bridge_rate_budget (key, next_start) VALUES (%s, 0)"
                " ON CONFLICT DO NOTHING",
                [self.key],
            )
            # The slot starts at the later of now and the budget's next start; the next one after it.
            cur.execute(
                """
                UPDATE mpesa_bridge_rate_budget
                   SET next_start = GREATEST(next_start, extract(epoch FROM clock_timestamp())) + %s
                 WHERE key = %s
             RETURNING next_start - %s - extract(epoch FROM clock_timestamp()) AS delay
                """,
                [self.interval, self.key, self.interval],
            )
            delay = float(cur.fetchone()["delay"])
        if delay > 0:
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        with self.db.cursor() as cur:
            cur.execute(
                """
                INSERT INTO mpesa_bridge_rate_budget (key, next_start)
                VALUES (%s, extract(epoch FROM clock_timestamp()) + %s)
                ON CONFLICT (key) DO UPDATE
                   SET next_start = GREATEST(mpesa_bridge_rate_budget.next_start, EXCLUDED.next_start)
                """,
                [self.key, float(seconds)],
            )


def throttle_for(db: Database, key: str, per_second: float | None):
    if not per_second or per_second <= 0:
        return NO_THROTTLE
    return PgThrottle(db, key, per_second)
