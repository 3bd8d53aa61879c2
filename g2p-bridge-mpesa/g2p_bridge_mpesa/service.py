"""``g2p-bridge-mpesa serve``: the connector's long-running side, beside the bridge's workers.

The bridge calls the connector only from its Celery tasks (check, block, initiate); M-Pesa answers
later, at a URL. This process listens for those answers and, every ``loop_seconds``: sends again
what is due, asks M-Pesa about what has no final answer, writes and posts the MT940 statements,
and releases reservations nothing will spend.
"""

from __future__ import annotations

import logging
import threading

from . import statements
from .engine import Engine
from .listener import Listener
from .settings import MpesaBridgeSettings

_logger = logging.getLogger(__name__)


def run_once(settings: MpesaBridgeSettings, engines: dict[str, Engine] | None = None) -> dict:
    """One pass of the loop for every bank; what each step did."""
    engines = engines or {code: Engine(settings, code, bank) for code, bank in settings.banks.items()}
    report = {}
    for code, engine in engines.items():
        try:
            counts = engine.reconcile()
            counts["statements"] = len(statements.build(engine))
            counts["posted"] = len(statements.post(engine))
            counts["requeued"] = len(statements.requeue_stuck(engine))
            counts["expired"] = len(engine.expire_reservations())
        except Exception:  # one bank's trouble must not stop the others
            _logger.exception("M-Pesa %s: serve loop step failed", code)
            counts = {"error": True}
        report[code] = counts
    return report


class Service:
    def __init__(self, settings: MpesaBridgeSettings, port: int | None = None):
        self.settings = settings
        self.listener = Listener(settings, port=port)
        self.engines = self.listener.engines
        self._stop = threading.Event()
        self._thread = None

    @property
    def port(self) -> int:
        return self.listener.port

    def _loop(self):
        while not self._stop.is_set():
            run_once(self.settings, self.engines)
            self._stop.wait(self.settings.loop_seconds)

    def start(self) -> Service:
        for engine in self.engines.values():
            engine.db.ensure_schema()
        self.listener.start()
        self._thread = threading.Thread(target=self._loop, name="mpesa-bridge-loop", daemon=True)
        self._thread.start()
        _logger.info(
            "M-Pesa connector listening on %s:%s for %s",
            self.settings.listen_host,
            self.port,
            ", ".join(self.engines),
        )
        return self

    def stop(self):
        self._stop.set()
        self.listener.stop()
        if self._thread:
            self._thread.join(timeout=30)

    def wait(self):
        try:
            while not self._stop.wait(3600):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
