"""Flow control toward M-Pesa: the hook every API call of a client goes through.

M-Pesa throttles per app and shortcode (spike arrest, ``500.003.02``; quota, ``500.003.03``), not
per caller process, and publishes no rate (``reference/daraja.md``). A client therefore takes a
slot from a :class:`Throttle` before each request leaves and tells it when M-Pesa said "too
many". Where the slots are kept is the caller's business: the addon keeps them in PostgreSQL,
shared by every process and node on the database; :class:`NoThrottle` is for callers that
need none.
"""

from typing import Protocol


class Throttle(Protocol):
    def wait(self) -> None:
        """Block until this caller may start one request."""

    def pause(self, seconds: float) -> None:
        """M-Pesa said too many requests: nobody sharing this budget starts one for `seconds`."""


class NoThrottle:
    """No ceiling, no shared pause."""

    def wait(self) -> None:
        return None

    def pause(self, seconds: float) -> None:
        return None


NO_THROTTLE = NoThrottle()
