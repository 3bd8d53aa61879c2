"""One requests-per-second budget per shortcode, kept in PostgreSQL and shared by processes.

Two PgRateBudget objects on one key stand for two Odoo processes (or nodes): each keeps its own
slots in memory, so only the database can space their starts. The drill in the Odoo-suite runner
checks the same with real workers and nodes, as the simulator sees them.
"""

import threading
import time
import uuid

from odoo.tests import TransactionCase, tagged

from ..models.mpesa_rate_budget import PgRateBudget
from .common import MpesaTransactionCase


def most_in_a_second(times):
    times = sorted(times)
    best = first = 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


@tagged("post_install", "-at_install")
class TestRateBudget(TransactionCase):
    def _budgets(self, rate, count=2):
        key = f"test-{uuid.uuid4().hex}#600000"
        # Not from the shared cache: each stands for a process of its own.
        return [PgRateBudget(self.env.cr.dbname, key, rate) for _ in range(count)]

    def _starts(self, budgets, per_thread, threads_per_budget=4):
        starts, lock = [], threading.Lock()

        def take(budget):
            for _ in range(per_thread):
                budget.wait()
                with lock:
                    starts.append(time.monotonic())

        threads = [
            threading.Thread(target=take, args=(budget,))
            for budget in budgets
            for _ in range(threads_per_budget)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return starts

    def test_two_processes_share_one_ceiling(self):
        budgets = self._budgets(rate=40)
        starts = self._starts(budgets, per_thread=10)  # 80 starts from 8 threads in 2 "processes"
        self.assertEqual(len(starts), 80)
        span = max(starts) - min(starts)
        # Spaced 1/40 s apart whoever takes them: 80 starts take at least 79/40 s.
        self.assertGreaterEqual(span, 79 / 40 - 0.05)
        # Per process, the old limiter would have let 2 x 40 start in the first second.
        self.assertLessEqual(most_in_a_second(starts), 40 + 1)

    def test_a_pause_in_one_process_holds_the_other(self):
        first, second = self._budgets(rate=0)  # no ceiling: only the pause applies
        first.wait()
        first.pause(0.6)
        started = time.monotonic()
        second.wait()
        self.assertGreaterEqual(time.monotonic() - started, 0.5)

    def test_no_ceiling_costs_no_wait(self):
        (budget,) = self._budgets(rate=0, count=1)
        started = time.monotonic()
        for _ in range(200):
            budget.wait()
        self.assertLess(time.monotonic() - started, 2.0)


@tagged("post_install", "-at_install")
class TestManagerThrottle(MpesaTransactionCase):
    def test_the_manager_client_throttles_through_its_shortcode_budget(self):
        self.manager.max_requests_per_second = 25
        other = self.manager.copy({"name": "Same shortcode"})
        with self.manager._mpesa_client() as client, other._mpesa_client() as client2:
            self.assertIsInstance(client.throttle, PgRateBudget)
            self.assertIs(client.throttle, client2.throttle, "one budget per shortcode")
            self.assertEqual(client.throttle.key, "http://127.0.0.1:9#600000")
            self.assertEqual(client.throttle.rate, 25)
