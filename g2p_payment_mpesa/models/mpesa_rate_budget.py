"""One requests-per-second budget per M-Pesa shortcode, shared by every Odoo process and node.

M-Pesa throttles per app and shortcode (spike arrest), whatever number of Odoo workers and nodes
send: the budget lives in PostgreSQL, the one engine all of them share, not in process memory.
A row per shortcode holds the next free start time on the database's clock. Taking slots is one
atomic upsert that moves it on by one interval per slot, so starts from all processes are spaced
1/rate apart; a spike arrest moves it past the pause for everybody.

A process takes a few slots per round trip (at most BLOCK_SECONDS' worth) and hands them to its
threads in order; a slot not used within half an interval is dropped, never used late in a burst.
"""

import logging
import math
import threading
import time
from collections import deque

from psycopg2 import OperationalError

from odoo import fields, models, sql_db

_logger = logging.getLogger(__name__)

# How far ahead one process reserves starts: the longest another process's pause can be late.
BLOCK_SECONDS = 0.1
# Slots taken at once when there is no ceiling (only a pause to honour).
UNLIMITED_BLOCK = 50
# Slots a thread lets go because it woke too late for them, before it starts anyway.
MAX_MISSED_SLOTS = 3

_TAKE = """
INSERT INTO g2p_mpesa_rate_budget (key, next_start)
VALUES (%(key)s, extract(epoch FROM clock_timestamp()) + %(span)s)
ON CONFLICT (key) DO UPDATE
   SET next_start = greatest(g2p_mpesa_rate_budget.next_start, extract(epoch FROM clock_timestamp()))
                    + %(span)s
RETURNING next_start - %(span)s - extract(epoch FROM clock_timestamp())
"""

_PAUSE = """
INSERT INTO g2p_mpesa_rate_budget (key, next_start)
VALUES (%(key)s, extract(epoch FROM clock_timestamp()) + %(seconds)s)
ON CONFLICT (key) DO UPDATE
   SET next_start = greatest(g2p_mpesa_rate_budget.next_start,
                             extract(epoch FROM clock_timestamp()) + %(seconds)s)
"""


class MpesaRateBudget(models.Model):
    """The shared start times; written only through PgRateBudget, in transactions of their own."""

    _name = "g2p.mpesa.rate.budget"
    _description = "M-Pesa request rate budget (per shortcode)"
    _log_access = False

    key = fields.Char(required=True, readonly=True, help="API base URL and shortcode.")
    next_start = fields.Float(
        readonly=True, help="Epoch seconds (database clock) of the next free request start."
    )

    _sql_constraints = [("key_unique", "unique(key)", "One budget per shortcode.")]


class PgRateBudget:
    """The wire Throttle of one shortcode, backed by g2p_mpesa_rate_budget.

    Thread-safe; one instance per (database, key, rate) per process (see `for_key`). Its own
    short transactions on a pooled connection: never the caller's cursor, whose transaction may
    be long and must not serialise everybody's sending behind it.
    """

    _instances = {}
    _instances_lock = threading.Lock()

    def __init__(self, dbname, key, rate):
        self.dbname, self.key = dbname, key
        self.rate = max(float(rate or 0), 0.0)
        self.interval = 1.0 / self.rate if self.rate else 0.0
        self.block = max(1, math.ceil(self.rate * BLOCK_SECONDS)) if self.rate else UNLIMITED_BLOCK
        self._slots = deque()  # time.monotonic() start times, in order
        self._lock = threading.Lock()

    @classmethod
    def for_key(cls, dbname, key, rate):
        with cls._instances_lock:
            budget = cls._instances.get((dbname, key, rate))
            if budget is None:
                budget = cls._instances[(dbname, key, rate)] = cls(dbname, key, rate)
            return budget

    def _execute(self, query, params):
        # READ COMMITTED, not Odoo's REPEATABLE READ: concurrent upserts of the one row then wait
        # for each other and see the latest start time, instead of failing to serialize.
        for attempt in range(5):
            try:
                with sql_db.db_connect(self.dbname).cursor() as cr:
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    cr.execute(query, params)
                    return cr.fetchone() if cr.description else None
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.05 * 2**attempt)

    def _take_block(self):
        span = self.block * self.interval
        (delay,) = self._execute(_TAKE, {"key": self.key, "span": span})
        first = time.monotonic() + max(float(delay), 0.0)
        self._slots.extend(first + k * self.interval for k in range(self.block))

    def wait(self):
        # A start later than half an interval after its slot would crowd the next one's: the
        # thread woke too late (a busy CPU), so that slot is let go and the next one taken. After
        # a few misses it goes anyway, so that a loaded machine sends slowly, never not at all.
        late = self.interval / 2 if self.interval else BLOCK_SECONDS
        for attempt in range(MAX_MISSED_SLOTS + 1):
            with self._lock:
                now = time.monotonic()
                while self._slots and self._slots[0] < now - late:
                    self._slots.popleft()  # another process's moment by now
                if not self._slots:
                    self._take_block()
                slot = self._slots.popleft()
            delay = slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() - slot <= late or attempt == MAX_MISSED_SLOTS:
                return

    def pause(self, seconds):
        seconds = max(float(seconds or 0), 0.0)
        with self._lock:
            self._slots.clear()
            self._execute(_PAUSE, {"key": self.key, "seconds": seconds})
        _logger.warning("M-Pesa asked to slow down: every request on %s paused for %ss", self.key, seconds)
