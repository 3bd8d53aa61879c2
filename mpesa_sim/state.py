"""The running simulator: database, organisation, configuration, faults, worker threads."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable

from mpesa_sim import credentials, families, markets, organisation
from mpesa_sim.callbacks import Dispatcher
from mpesa_sim.db import Database, GroupCommit
from mpesa_sim.faults import Faults

log = logging.getLogger("mpesa_sim")


class RequestLog:
    """When each API request (Daraja: B2C, status, balance; OpenAPI: b2cPayment, queryTransactionStatus,
    reversal) arrived: the rate a client really sent.

    In memory, bounded; a restart starts it afresh. Wall-clock seconds, so that a client's own
    timestamps can be compared with it.
    """

    def __init__(self, maxlen: int = 500_000):
        self._entries: deque[tuple[float, str]] = deque(maxlen=maxlen)

    def record(self, path: str) -> None:
        self._entries.append((time.time(), path))  # deque.append is atomic: no lock needed

    def since(self, since: float = 0.0) -> list[tuple[float, str]]:
        return [entry for entry in list(self._entries) if entry[0] >= since]


def max_in_window(times: list[float], window: float) -> int:
    """The most starts in any half-open interval [t, t + window)."""
    times = sorted(times)
    best = first = 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


class Simulator:
    def __init__(
        self,
        db_path: str,
        admin_token: str | None = None,
        demo: bool = True,
        market: markets.Market | str | None = None,
    ):
        """``market`` None: the database's own (Kenya for a new file); one that differs from
        the database's raises markets.MarketMismatch."""
        if isinstance(market, str):
            market = markets.get(market)
        self.db = Database(db_path)
        try:
            self.org = organisation.bootstrap(self.db, admin_token=admin_token, demo=demo, market=market)
        except markets.MarketMismatch:
            self.db.close()
            raise
        self.market = organisation.stored_market(self.db)
        markets.activate(self.market)
        self.config = self.db.get_setting("config")
        self.admin_token = self.db.get_setting("admin_token")
        self.certificate_pem = self.db.get_setting("certificate_pem")
        self.jwt_secret = self.db.get_setting("jwt_secret")
        self.decryptor = credentials.CredentialDecryptor(self.db.get_setting("rsa_key_pem"))
        # An OpenAPI market's application (API key, key pair) and its settings; None elsewhere.
        self.openapi = self.db.get_setting("openapi") if self.market.is_openapi else None
        if self.openapi is not None:
            for key, value in organisation.OPENAPI_CONFIG.items():
                self.config.setdefault(key, value)
            self.openapi_decryptor = credentials.CredentialDecryptor(self.openapi["key_pem"])
        self.faults = Faults(self.db)
        self.dispatcher = Dispatcher(self.db, self.faults, self.config)
        self.group_commit = GroupCommit(self.db)
        self._jobs: queue.Queue = queue.Queue()
        self._tokens: dict[str, float] = {}
        self.api_requests = RequestLog()
        # Ports this process serves besides its own (`serve --mz-ports`: Mozambique's API has one
        # port per operation); set by the command line before the server starts.
        self.extra_ports: tuple[int, ...] = ()
        self._processor = threading.Thread(target=self._process_loop, name="processor", daemon=True)
        self._processor.start()
        # What each API family this market serves keeps per simulator (the OpenAPI's sessions):
        # the families registered themselves (families.py; app imports them).
        self.family_state: dict[str, object] = {}
        for family in families.serving(self.market):
            if family.start is not None:
                self.family_state[family.name] = family.start(self)
        # Requests accepted before a stop are still owed a result: pick them up again.
        for row in self.db.all(
            "SELECT id, kind, api FROM transactions WHERE status = 'pending' AND kind IN ('b2c', 'reversal')"
            " ORDER BY id"
        ):
            process = families.resumer(row["api"])
            if process is None:  # its family is not loaded (import mpesa_sim.app): left for later
                log.warning("no API family resumes pending transaction %s (api %s)", row["id"], row["api"])
                continue
            self.enqueue(process, row["id"])

    # -- background processing --------------------------------------------------------------
    def enqueue(self, func: Callable, *args) -> None:
        self._jobs.put((func, args))

    def _process_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            func, args = job
            try:
                func(self, *args)
            except Exception:  # one bad job must not stop every later payment
                log.exception("processing %s%r failed", func.__name__, args)
            finally:
                self._jobs.task_done()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued job ran and its immediate callbacks were sent and recorded."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        self.dispatcher.flush(max(0.1, deadline - time.monotonic()))

    # -- configuration ----------------------------------------------------------------------
    def update_config(self, changes: dict) -> dict:
        unknown = set(changes) - set(organisation.default_config(self.market))
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            if key in organisation.TEXT_SETTINGS:
                pattern, what = organisation.TEXT_SETTINGS[key]
                if not isinstance(value, str) or not re.fullmatch(pattern, value):
                    raise ValueError(f"{key}: {what}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key}: a non-negative number")
            elif key == "openapi_invalid_session_status" and value not in range(400, 600):
                raise ValueError(f"{key}: an HTTP error status, 400 to 599")
        # Mutated in place: the dispatcher holds the same dict.
        self.config.update(changes)
        with self.db.write() as conn:
            self.db.set_setting("config", self.config, conn)
        return dict(self.config)

    def unlock_initiator(self) -> None:
        with self.db.write() as conn:
            self.db.set_setting("initiator", {"consecutive_failures": 0, "locked": False}, conn)

    # -- access tokens ----------------------------------------------------------------------
    def issue_token(self) -> tuple[str, int]:
        ttl = int(self.config["token_ttl_seconds"])
        token = credentials.new_access_token()
        expires = time.time() + ttl
        with self.db.write() as conn:
            conn.execute("DELETE FROM tokens WHERE expires_at < ?", (time.time(),))
            conn.execute("INSERT INTO tokens(token, expires_at) VALUES (?, ?)", (token, expires))
        self._tokens[token] = expires
        return token, ttl

    def token_valid(self, token: str) -> bool:
        expires = self._tokens.get(token)
        if expires is None:
            row = self.db.one("SELECT expires_at FROM tokens WHERE token = ?", (token,))
            if row is None:
                return False
            expires = self._tokens[token] = row["expires_at"]
        return time.time() < expires

    def stop(self) -> None:
        self.group_commit.stop()
        self._jobs.put(None)
        self._processor.join(timeout=5)
        self.dispatcher.stop()
