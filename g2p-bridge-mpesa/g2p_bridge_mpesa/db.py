"""The connector's own PostgreSQL tables: its ledger of reservations, payments and statements.

Every table is prefixed ``mpesa_bridge_`` so the ledger may live in the bridge's own database or in
one of its own. ``ensure_schema`` creates what is missing (idempotent; run by ``g2p-bridge-mpesa
migrate`` and at first use in each process).

Connections: one small pool per process (the bridge's Celery workers fork: a pool made before the
fork is never used after it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

import psycopg2
import psycopg2.extras
import psycopg2.pool

_logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS mpesa_bridge_reservation (
    block_reference text PRIMARY KEY,
    bank_code text NOT NULL,
    account_number text NOT NULL,
    currency text NOT NULL,
    amount numeric(20, 2) NOT NULL CHECK (amount > 0),
    -- Running totals, kept with every entry in the same transaction (a hold is one UPDATE, whatever
    -- the envelope's size); ledger.check() proves them equal to the entries and payments.
    paid numeric(20, 2) NOT NULL DEFAULT 0 CHECK (paid >= 0),
    released numeric(20, 2) NOT NULL DEFAULT 0 CHECK (released >= 0),
    held numeric(20, 2) NOT NULL DEFAULT 0 CHECK (held >= 0),
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    CHECK (paid + released + held <= amount)
);

-- The reservation ledger: a block adds; a payment's hold takes from the block while it is in
-- flight; it ends as a pay (M-Pesa paid it) or a release (failed, refused, or a block's unspent
-- remainder). For every block: amount = pay + release + held + free, none negative.
CREATE TABLE IF NOT EXISTS mpesa_bridge_fund_entry (
    id bigserial PRIMARY KEY,
    block_reference text NOT NULL REFERENCES mpesa_bridge_reservation,
    kind text NOT NULL CHECK (kind IN ('block', 'pay', 'release')),
    amount numeric(20, 2) NOT NULL CHECK (amount > 0),
    disbursement_id text,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mpesa_bridge_fund_entry_block ON mpesa_bridge_fund_entry (block_reference);
CREATE INDEX IF NOT EXISTS mpesa_bridge_fund_entry_at
    ON mpesa_bridge_fund_entry (created_at) WHERE kind = 'pay';
CREATE UNIQUE INDEX IF NOT EXISTS mpesa_bridge_fund_entry_once
    ON mpesa_bridge_fund_entry (disbursement_id, kind) WHERE disbursement_id IS NOT NULL;

-- One row per disbursement the bridge sent: what was asked, what M-Pesa did, what was reported.
CREATE TABLE IF NOT EXISTS mpesa_bridge_payment (
    disbursement_id text PRIMARY KEY,
    bank_code text NOT NULL,
    market text NOT NULL,
    account_number text NOT NULL,
    currency text NOT NULL,
    block_reference text REFERENCES mpesa_bridge_reservation,
    amount numeric(20, 2) NOT NULL,
    held boolean NOT NULL DEFAULT false,
    msisdn text,
    beneficiary_id text,
    beneficiary_name text,
    program text,
    cycle text,
    -- refused (never sent) / reserved (id committed, not acknowledged) / accepted / unknown /
    -- paid / failed / review (held for a person: never reported until one decides)
    state text NOT NULL,
    conversation_id text UNIQUE,
    mpesa_conversation_id text,
    receipt text UNIQUE,
    result_code text,
    result_desc text,
    receiver_name text,
    completed_at timestamptz,
    submit_attempts integer NOT NULL DEFAULT 0,
    new_ids integer NOT NULL DEFAULT 0,
    status_queries integer NOT NULL DEFAULT 0,
    last_submit_at timestamptz,
    next_check_at timestamptz,
    statement_ref text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mpesa_bridge_payment_due ON mpesa_bridge_payment (state, next_check_at);
CREATE INDEX IF NOT EXISTS mpesa_bridge_payment_unreported
    ON mpesa_bridge_payment (account_number) WHERE statement_ref IS NULL;

-- Every request id ever used for a payment (a new one only after M-Pesa failed the old one).
CREATE TABLE IF NOT EXISTS mpesa_bridge_request (
    conversation_id text PRIMARY KEY,
    disbursement_id text NOT NULL REFERENCES mpesa_bridge_payment,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS mpesa_bridge_statement (
    statement_ref text PRIMARY KEY,
    bank_code text NOT NULL,
    account_number text NOT NULL,
    statement_number integer NOT NULL,
    content text NOT NULL,
    lines integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    posted_at timestamptz,
    bridge_statement_id text,
    post_attempts integer NOT NULL DEFAULT 0,
    last_error text
);

CREATE TABLE IF NOT EXISTS mpesa_bridge_balance (
    id bigserial PRIMARY KEY,
    bank_code text NOT NULL,
    utility_available numeric(20, 2),
    working_available numeric(20, 2),
    source text NOT NULL,
    reported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mpesa_bridge_balance_latest ON mpesa_bridge_balance (bank_code, reported_at DESC);

-- A bank whose credentials M-Pesa refused: nothing more is sent (a lock-out) until cleared.
CREATE TABLE IF NOT EXISTS mpesa_bridge_bank_state (
    bank_code text PRIMARY KEY,
    blocked_reason text,
    blocked_at timestamptz
);

-- Requests per second toward one app and shortcode, shared by every process (see throttle.py).
CREATE TABLE IF NOT EXISTS mpesa_bridge_rate_budget (
    key text PRIMARY KEY,
    next_start double precision NOT NULL
);
"""

# PostgreSQL's lock key for schema creation (CREATE TABLE IF NOT EXISTS races between processes).
_SCHEMA_LOCK = 0x4D504553  # "MPES"


class Database:
    """A DSN and a per-process pool of connections to it."""

    def __init__(self, dsn: str, maxconn: int = 8):
        self.dsn = dsn
        self.maxconn = maxconn
        self._pool = None
        self._pid = None
        self._lock = threading.Lock()
        self._schema_ready = False

    def __repr__(self):  # the DSN may hold a password
        return "Database(<dsn>)"

    def _get_pool(self):
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = psycopg2.pool.ThreadedConnectionPool(0, self.maxconn, self.dsn)
                self._pid = os.getpid()
                self._schema_ready = False
            return self._pool

    @contextlib.contextmanager
    def cursor(self):
        """A cursor in a transaction of its own: committed when the block ends, rolled back on an
        exception. Rows are dicts."""
        pool = self._get_pool()
        conn = pool.getconn()
        broken = False
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
            conn.commit()
        except BaseException as exc:
            broken = isinstance(exc, psycopg2.InterfaceError | psycopg2.OperationalError)
            with contextlib.suppress(Exception):
                conn.rollback()
            raise
        finally:
            pool.putconn(conn, close=broken or conn.closed != 0)

    def ensure_schema(self):
        if self._schema_ready and self._pid == os.getpid():
            return
        with self.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
            cur.execute(SCHEMA)
        self._schema_ready = True

    def close(self):
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.closeall()
            self._pool = None


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def database(dsn: str) -> Database:
    """The process's Database for this DSN (schema created at first use)."""
    with _DATABASES_LOCK:
        db = _DATABASES.get(dsn)
        if db is None:
            db = _DATABASES[dsn] = Database(dsn)
    db.ensure_schema()
    return db
