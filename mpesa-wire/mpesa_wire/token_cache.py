"""A process-wide cache of access tokens (Daraja's OAuth tokens, OpenAPI's session keys).

A token lives a while (Daraja's about an hour) and every app has an unpublished rate limit, so
each worker thread fetching its own would waste calls and risk throttling. One token is kept per
(base_url, key); concurrent callers that need a new one wait for a single fetch.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TokenKey = tuple[str, str]
# fetch() returns (access_token, lifetime in seconds).
TokenFetcher = Callable[[], tuple[str, float]]


@dataclass(frozen=True)
class _Entry:
    token: str
    # Monotonic time after which the token is no longer handed out.
    refresh_at: float


class _Flight:
    """One token fetch in progress; the threads that need the same token wait for it."""

    def __init__(self):
        self.done = threading.Event()
        self.token: str | None = None
        self.error: BaseException | None = None


class TokenCache:
    def __init__(self, refresh_margin: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._entries: dict[TokenKey, _Entry] = {}
        self._flights: dict[TokenKey, _Flight] = {}
        # Guards the two dicts only; never held during a fetch, so one slow app does not block
        # the tokens of another.
        self._lock = threading.Lock()

    @staticmethod
    def key_for(base_url: str, consumer_key: str) -> TokenKey:
        return (base_url.rstrip("/"), consumer_key)

    def _fresh(self, key: TokenKey) -> str | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry.refresh_at:
            return entry.token
        return None

    def get(self, key: TokenKey, fetch: TokenFetcher) -> str:
        """Return a token for ``key``; concurrent callers share one call of ``fetch``.

        The threads that waited for a fetch get its outcome, failure included: with M-Pesa
        down or the credentials wrong, N workers make one token request, not N.
        """
        with self._lock:
            token = self._fresh(key)
            if token is not None:
                return token
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.token
        try:
            token, lifetime = fetch()
            # A short-lived token (a test or a misbehaving server) would otherwise be "stale"
            # the moment it arrives and be fetched again on every call.
            margin = min(self.refresh_margin, lifetime / 2)
            with self._lock:
                self._entries[key] = _Entry(token, self._clock() + lifetime - margin)
            flight.token = token
            return token
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def invalidate(self, key: TokenKey, token: str | None = None) -> None:
        """Forget the token of ``key``.

        With ``token``, forget it only if it is still the cached one: when several threads get
        "invalid token" for the same stale token, the first refreshes it and the others must not
        throw the fresh one away.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (token is None or entry.token == token):
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# Shared by every wire client of the process unless one is given its own.
TOKEN_CACHE = TokenCache()
