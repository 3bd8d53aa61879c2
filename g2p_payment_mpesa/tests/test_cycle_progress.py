"""The cycle approver sees M-Pesa's progress on the cycle, announced on the bus as it changes."""

import json

from odoo.tests import tagged

from ..models import g2p_cycle
from . import payloads
from .common import MPESA, MpesaTransactionCase
from .test_callbacks import _SentPaymentMixin


@tagged("post_install", "-at_install")
class TestCycleProgress(_SentPaymentMixin, MpesaTransactionCase):
    def setUp(self):
        super().setUp()
        g2p_cycle._ANNOUNCED_AT.clear()

    def _announcements(self):
        rows = self.env["bus.bus"].sudo().search([("channel", "like", "broadcast")])
        found = []
        for row in rows:
            message = json.loads(row.message)
            if message.get("type") == g2p_cycle.PROGRESS_NOTIFICATION:
                found.append(message["payload"])
        return found

    def test_counts_and_amounts_follow_the_payments(self):
        payment, tx = self._sent_payment()
        self.assertTrue(self.cycle.mpesa_enabled)
        self.assertEqual((self.cycle.mpesa_in_flight_count, self.cycle.mpesa_in_flight_amount), (1, 500))
        self.assertEqual(self.cycle.mpesa_request_count, 1)
        self._callback("result", payloads.result_body(tx.originator_conversation_id))
        self.cycle.invalidate_recordset()
        self.assertEqual(
            (self.cycle.mpesa_paid_count, self.cycle.mpesa_paid_amount, self.cycle.mpesa_in_flight_count),
            (1, 500, 0),
        )
        self.assertEqual(payment.status, "paid")

    def test_a_changed_payment_is_announced_on_the_bus_for_its_cycle(self):
        _payment, tx = self._sent_payment()
        before = len(self._announcements())
        g2p_cycle._ANNOUNCED_AT.clear()
        self._callback("result", payloads.result_body(tx.originator_conversation_id))
        announced = self._announcements()[before:]
        self.assertIn({"model": "g2p.cycle", "id": self.cycle.id}, announced)

    def test_announcements_are_at_most_one_a_second_per_cycle(self):
        self.cycle._mpesa_notify_progress()
        self.cycle._mpesa_notify_progress()
        self.cycle._mpesa_notify_progress(throttled=False)  # the cron's: always
        self.assertEqual(len(self._announcements()), 2)

    def test_the_requests_button_opens_this_cycles_requests(self):
        _payment, tx = self._sent_payment()
        action = self.cycle.action_mpesa_requests()
        self.assertEqual(self.env["g2p.mpesa.transaction"].search(action["domain"]), tx)

    def test_a_batch_refused_entirely_is_started_and_completed(self):
        partner = self._registrant("Nophone")
        self._entitlement(partner)
        self.cycle.prepare_payment()
        self.manager.send_payments(self.cycle.payment_batch_ids)
        batch = self.cycle.payment_batch_ids
        self.assertEqual(self.payment_of(partner).mpesa_state, MPESA.PAY_FAILED)
        self.assertTrue(batch.batch_has_completed)
        self.assertTrue(batch.batch_has_started, "never completed without started")
        self.assertEqual(self.cycle.mpesa_failed_count, 1)


@tagged("post_install", "-at_install")
class TestCycleFormFigures(MpesaTransactionCase):
    """OpenG2P's cycle form figures (total amount, the approve-entitlements button), asked of
    PostgreSQL rather than read entitlement by entitlement: the same answers."""

    def test_total_and_approve_button_are_openg2ps(self):
        people = [self._registrant(f"Figure{i}", phone=f"07120000{i:02d}") for i in range(3)]
        entitlements = self._entitlement(people[0], amount=100) | self._entitlement(people[1], amount=250.5)
        entitlements |= self._entitlement(people[2], amount=49.5)
        entitlements.state = "pending_validation"
        self.cycle.invalidate_recordset()
        self.assertEqual(self.cycle.total_amount, 400.0)
        self.assertTrue(self.cycle.total_amount_in_words.startswith("Four Hundred "))  # the cycle currency
        self.assertFalse(self.cycle.show_approve_entitlements_button)
        entitlements.state = "approved"
        self.cycle.invalidate_recordset()
        self.assertTrue(self.cycle.show_approve_entitlements_button)
        empty = self.cycle.copy({"name": "No entitlements"})
        self.assertEqual(empty.total_amount, 0.0)
        self.assertTrue(empty.show_approve_entitlements_button)
