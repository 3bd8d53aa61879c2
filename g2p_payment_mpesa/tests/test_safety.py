"""The invariants of DESIGN.md against the live simulator: never twice, never lost."""

from odoo import fields
from odoo.tests import tagged

from mpesa_wire import OutcomeKind

from .common import MPESA, MpesaLiveCase


class _OnePaymentCase(MpesaLiveCase):
    """Each test pays one registrant of its own, whose wallet the simulator knows."""

    PREFIX = "0722"  # the registrants' numbers: PREFIX + 0000 + two digits

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        wallets = [
            {"msisdn": cls.msisdn(f"{cls.PREFIX[1:]}0000{i:02d}"), "name": f"Person {i}"} for i in range(20)
        ]
        cls.sim.seed(wallets=wallets)

    def _one(self, index):
        partner = self._registrant(f"P{self.PREFIX}{index}", phone=f"{self.PREFIX}0000{index:02d}")
        self._entitlement(partner)
        self.manager.prepare_payments(self.cycle)
        payment = self.payment_of(partner)
        payment.mpesa_state = MPESA.PAY_QUEUED
        return payment


@tagged("post_install", "-at_install")
class TestNeverTwice(_OnePaymentCase):
    def _ledger(self, payment):
        return [
            row
            for tx in payment.mpesa_transaction_ids
            for row in self.sim.transactions(originator_conversation_id=tx.originator_conversation_id)
        ]

    def _reconcile_until_final(self, payment, rounds=6):
        for _round in range(rounds):
            self.env.invalidate_all()
            if payment.status_is_final or payment.mpesa_state == MPESA.PAY_NEEDS_REVIEW:
                return
            self.env["g2p.mpesa.transaction"].search([("payment_id", "=", payment.id)]).write(
                {
                    "next_check_at": fields.Datetime.now(),
                    "last_submit_at": fields.Datetime.subtract(fields.Datetime.now(), hours=1),
                }
            )
            self.manager.with_context(queue_job__no_delay=True)._mpesa_reconcile()
            self.drain()
            self.wait_until(lambda: True)

    def test_crash_after_reserving_reuses_the_same_id(self):
        payment = self._one(1)
        tx = self.manager._mpesa_reserve(payment)  # ... and the worker dies before sending
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.assertEqual(payment.mpesa_transaction_ids, tx)
        self.wait_until(lambda: payment.status_is_final, message="paid")
        self.assertEqual(len(self._ledger(payment)), 1)

    def test_crash_after_sending_is_resolved_by_status_query_not_a_second_payment(self):
        payment = self._one(2)
        tx = self.manager._mpesa_reserve(payment)
        # The request leaves, M-Pesa pays, and the worker dies before recording the answer;
        # M-Pesa's result never arrives either.
        self.sim.set_faults(no_callback={"rate": 1})
        outcome = self.manager._mpesa_client().b2c_submit(self.manager._mpesa_request(tx))
        self.assertEqual(outcome.kind, OutcomeKind.ACCEPTED)
        self.sim.reset_faults()
        # The job runs again: the same id goes out, M-Pesa says duplicate, we ask.
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.assertEqual(tx.state, MPESA.TX_UNKNOWN)
        self._reconcile_until_final(payment)
        self.assertEqual(payment.status, "paid")
        self.assertEqual(len(self._ledger(payment)), 1)
        self.assertEqual(payment.mpesa_transaction_ids, tx)

    def test_sync_500_after_processing_is_never_paid_twice(self):
        payment = self._one(3)
        self.sim.set_faults(sync_500_processed={"rate": 1})
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.sim.reset_faults()
        self._reconcile_until_final(payment)
        self.assertEqual(payment.status, "paid")
        self.assertEqual(len(self._ledger(payment)), 1)

    def test_transient_spike_arrest_is_retried_with_the_same_id(self):
        payment = self._one(4)
        self.sim.set_faults(spike_arrest={"rate": 1})
        self.manager._mpesa_send_chunk(payment.ids)  # queued again, not inline
        tx = payment.mpesa_transaction_ids
        self.assertEqual(tx.state, MPESA.TX_RESERVED)
        self.sim.reset_faults()
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.wait_until(lambda: payment.status_is_final, message="paid")
        self.assertEqual(payment.mpesa_transaction_ids, tx)
        self.assertEqual(len(self._ledger(payment)), 1)

    def test_transient_result_is_paid_once_under_a_new_id(self):
        payment = self._one(5)
        self.sim.set_faults(transient_result={"rate": 1, "code": 26})
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.wait_until(lambda: payment.mpesa_state == MPESA.PAY_QUEUED, message="transient result")
        self.sim.reset_faults()
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.wait_until(lambda: payment.status_is_final, message="paid")
        self.assertEqual(payment.status, "paid")
        self.assertEqual(len(payment.mpesa_transaction_ids), 2)
        completed = [row for row in self._ledger(payment) if row["status"] == "completed"]
        self.assertEqual(len(completed), 1)

    def test_duplicate_callbacks_pay_once(self):
        payment = self._one(6)
        self.sim.set_faults(duplicate_callback={"rate": 1, "copies": 3})
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.drain()
        self.wait_until(lambda: payment.status_is_final, message="paid")
        self.assertEqual(payment.amount_paid, self.AMOUNT)


@tagged("post_install", "-at_install")
class TestNeverTwiceET(TestNeverTwice):
    MARKET = SIM_MARKET = "ET"
    CURRENCY = "ETB"


@tagged("post_install", "-at_install")
class TestNeverLost(_OnePaymentCase):
    PREFIX = "0733"

    def _due_now(self, payment):
        payment.mpesa_transaction_ids.write({"next_check_at": fields.Datetime.now()})

    def test_missing_result_is_found_by_status_query(self):
        payment = self._one(1)
        self.sim.set_faults(no_callback={"rate": 1})
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.drain()
        self.assertEqual(payment.mpesa_state, MPESA.PAY_ACCEPTED)
        self.sim.reset_faults()
        self._due_now(payment)
        self.manager._mpesa_reconcile()
        self.wait_until(lambda: payment.status_is_final, message="paid after status query")
        self.assertEqual(payment.status, "paid")
        self.assertTrue(payment.mpesa_receipt)

    def test_queue_timeout_is_resolved_not_failed(self):
        payment = self._one(2)
        self.sim.set_faults(queue_timeout={"rate": 1, "processed": True})
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.wait_until(lambda: payment.mpesa_state == MPESA.PAY_UNKNOWN, message="timeout notice")
        self.sim.reset_faults()
        self.manager._mpesa_reconcile()
        self.wait_until(lambda: payment.status_is_final, message="resolved")
        self.assertEqual(payment.status, "paid")

    def test_no_answer_at_all_ends_in_needs_review_with_an_activity(self):
        payment = self._one(3)
        self.sim.set_faults(callback_delivery_failure={"rate": 1})
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        for _attempt in range(self.manager.reconcile_max_attempts + 1):
            self._due_now(payment)
            self.manager._mpesa_reconcile()
            self.drain()
        self.env.invalidate_all()
        self.assertEqual(payment.mpesa_state, MPESA.PAY_NEEDS_REVIEW)
        self.assertFalse(payment.status_is_final)
        activity = self.manager.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref("g2p_payment_mpesa.mail_activity_mpesa_review")
        )
        self.assertTrue(activity)
        review = self.env["g2p.payment"].search([("mpesa_state", "=", "needs_review")])
        self.assertIn(payment, review, "the needs-review filter finds it")

    def test_wrong_initiator_password_stops_the_run(self):
        payment = self._one(4)
        self.manager.sudo().initiator_password = "wrong"
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(payment.ids)
        self.wait_until(lambda: payment.status_is_final, message="2001 result")
        self.assertEqual(payment.mpesa_result_code, "2001")
        self.assertTrue(self.manager.sending_blocked_reason)
        other = self._one(5)
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_chunk(other.ids)
        self.assertFalse(other.mpesa_transaction_ids, "nothing more is sent once stopped")


@tagged("post_install", "-at_install")
class TestNeverLostET(TestNeverLost):
    MARKET = SIM_MARKET = "ET"
    CURRENCY = "ETB"
