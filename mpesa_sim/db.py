"""SQLite storage: schema, one connection per thread, explicit write transactions.

Every connection runs in autocommit mode so that a write transaction is always an explicit
``BEGIN IMMEDIATE`` (taking the write lock up front): two transfers can then never both read a
balance and both decide there is enough money.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,          -- 'org:utility', 'wallet:2547...', 'till:123456', 'agent:<email>'
    kind TEXT NOT NULL,                -- org_utility, org_working, wallet, till, agent
    name TEXT NOT NULL,
    balance_cents INTEGER NOT NULL DEFAULT 0 CHECK (balance_cents >= 0)
);
CREATE TABLE IF NOT EXISTS wallets (
    msisdn TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    id_type TEXT NOT NULL DEFAULT '01',
    id_number TEXT NOT NULL DEFAULT '',
    email TEXT UNIQUE,
    pin_hash TEXT NOT NULL,
    pin_failures INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active',      -- active | frozen
    registered INTEGER NOT NULL DEFAULT 1,
    language TEXT NOT NULL DEFAULT 'en'          -- the USSD menu's: en | sw
);
CREATE TABLE IF NOT EXISTS tills (
    till_number TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sm_users (
    id INTEGER PRIMARY KEY,
    user_type TEXT NOT NULL,          -- administrator | agent | merchant | subscriber
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    phone TEXT,
    account_id INTEGER REFERENCES accounts(id),
    UNIQUE (user_type, email)
);
CREATE TABLE IF NOT EXISTS topups (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    receipt TEXT                       -- the statement's Receipt No. (top-ups of org accounts)
);
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                -- b2c, reversal, till_payment, deposit, transfer, withdraw,
                                       -- float_transfer
    api TEXT,                          -- b2c_v3, b2c_v1, b2c_validate, reversal, openapi_b2c,
                                       -- openapi_reversal
    receipt TEXT UNIQUE,
    originator_conversation_id TEXT UNIQUE,
    conversation_id TEXT,
    from_account TEXT NOT NULL,
    to_account TEXT NOT NULL,
    party_b TEXT,
    amount_cents INTEGER NOT NULL,
    result_code TEXT,
    result_desc TEXT,
    status TEXT NOT NULL,              -- pending | completed | failed
    request_json TEXT,
    created_at TEXT NOT NULL,
    finalised_at TEXT,
    linked_receipt TEXT,               -- a reversal: the receipt of the transaction it reverses
    reversed_by TEXT,                  -- a reversed transaction: the reversal's receipt
    silent INTEGER NOT NULL DEFAULT 0  -- fault lost_result: no result, no status answer, ever
);
CREATE INDEX IF NOT EXISTS transactions_party_b ON transactions(party_b);
CREATE INDEX IF NOT EXISTS transactions_status ON transactions(status);
CREATE INDEX IF NOT EXISTS transactions_to ON transactions(to_account, status, finalised_at);
CREATE INDEX IF NOT EXISTS transactions_conversation ON transactions(conversation_id);
-- The organisation's accounts' journal (their statement): one entry per change of balance, in
-- the write transaction that made it, so the order of ids is the order of the balances.
CREATE TABLE IF NOT EXISTS account_entries (
    id INTEGER PRIMARY KEY,
    account_ref TEXT NOT NULL,         -- org:utility, org:working
    transaction_id INTEGER REFERENCES transactions(id),
    topup_id INTEGER REFERENCES topups(id),
    amount_cents INTEGER NOT NULL,     -- signed: paid in > 0, withdrawn < 0
    balance_after_cents INTEGER NOT NULL,
    created_at TEXT NOT NULL           -- the completion time (Kenya time, as transactions)
);
CREATE INDEX IF NOT EXISTS account_entries_at ON account_entries(account_ref, created_at);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
-- Vodacom OpenAPI markets' sessions (getSession): live from live_at until expires_at (Unix seconds).
CREATE TABLE IF NOT EXISTS openapi_sessions (
    session_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    live_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                -- result | timeout
    originator_conversation_id TEXT,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    http_status INTEGER,
    latency_ms REAL,
    delivered INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    fault TEXT,
    replay_of INTEGER,
    attempted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS callbacks_ocid ON callbacks(originator_conversation_id);
CREATE TABLE IF NOT EXISTS sms (
    id INTEGER PRIMARY KEY,
    msisdn TEXT NOT NULL,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_msisdn ON sms(msisdn);
CREATE TABLE IF NOT EXISTS fault_stats (
    kind TEXT PRIMARY KEY,
    count INTEGER NOT NULL DEFAULT 0
);
"""


class Database:
    """A SQLite file shared by the request thread, the processor and the callback senders."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        # Writers of this process queue here, not in SQLite: SQLite's busy handler sleeps 1, 2,
        # 5 ... 100 ms between tries, and the request loop waiting on it stalled every request
        # (profiled: the simulator's ack rate doubled). BEGIN IMMEDIATE still guards other
        # processes (the CLI) writing the same file.
        self._write_lock = threading.Lock()
        self.conn().executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after a database file was first made (simulator files are kept)."""
        conn = self.conn()
        for table, column, ddl in (
            ("wallets", "language", "TEXT NOT NULL DEFAULT 'en'"),
            ("topups", "receipt", "TEXT"),
            ("transactions", "linked_receipt", "TEXT"),
            ("transactions", "reversed_by", "TEXT"),
            ("transactions", "silent", "INTEGER NOT NULL DEFAULT 0"),
        ):
            columns = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")
        conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS topups_receipt ON topups(receipt)")
        # A file made before the journal: rebuild it once from the history it holds.
        from mpesa_sim import ledger

        if ledger.journal_missing(conn):
            with self.write() as wconn:
                if ledger.journal_missing(wconn):
                    ledger.rebuild_journal(wconn)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            # WAL + NORMAL: readers never block the writer and a commit costs no fsync; a power cut
            # may lose the last commits, which a simulator can afford.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database write lock from its first statement."""
        conn = self.conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query in it sees the same committed state."""
        conn = self.conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        return self.conn().execute(sql, params).fetchone()

    def all(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self.conn().execute(sql, params).fetchall()

    # Settings are small JSON values (credentials, keys, limits, faults) kept with the data so
    # that a restart finds the same organisation.
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM settings WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def set_setting(self, key: str, value: Any, conn: sqlite3.Connection | None = None) -> None:
        sql = (
            "INSERT INTO settings(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        )
        (conn or self.conn()).execute(sql, (key, json.dumps(value)))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class GroupCommit:
    """Small writes from many requests, committed together: one transaction per group.

    The request loop hands a write over and awaits its future instead of taking the write lock
    itself: it keeps answering while the writes wait, and a burst of N acknowledgements costs
    one commit and one lock hand-over instead of N (profiled: the B2C request path spent most
    of its time waiting for the lock). A future resolves only after its write is committed, so
    nothing is acknowledged before it is durable. Each write runs under its own savepoint: one
    that fails (a duplicate id) fails alone.
    """

    def __init__(self, db: Database, max_group: int = 256):
        self._db = db
        self._max_group = max_group
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, write: Callable[[sqlite3.Connection], Any]) -> Future:
        future: Future = Future()
        self._queue.put((write, future))
        return future

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(item)
            self._commit(group)

    def _commit(self, group: list) -> None:
        outcomes = []
        try:
            with self._db.write() as conn:
                for write, future in group:
                    conn.execute("SAVEPOINT group_write")
                    try:
                        outcomes.append((future, write(conn), None))
                    except Exception as exc:  # this write alone is undone
                        conn.execute("ROLLBACK TO group_write")
                        outcomes.append((future, None, exc))
                    conn.execute("RELEASE group_write")
        except Exception as exc:  # the commit itself failed: nothing of the group is durable
            for _write, future in group:
                future.set_exception(exc)
            return
        for future, result, exc in outcomes:
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)
