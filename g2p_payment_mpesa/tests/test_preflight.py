from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MPESA, MpesaTransactionCase


@tagged("post_install", "-at_install")
class TestPreflight(MpesaTransactionCase):
    """Nothing M-Pesa would refuse for our own mistake is sent; the rest goes on."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.good = cls._registrant("Good", phone="0712 345 678")
        cls.foreign = cls._registrant("Foreign", phone="+255 754 123 456")
        cls.landline = cls._registrant("Landline", phone=cls.landline_number())
        cls.no_phone = cls._registrant("Nophone")
        cls.fraction = cls._registrant("Fraction", phone="0722000111")
        cls.out_of_limits = cls._registrant("Small", phone="0733000111")
        for partner in (cls.good, cls.foreign, cls.landline, cls.no_phone):
            cls._entitlement(partner)
        cls._entitlement(cls.fraction, amount=500.5)
        cls._entitlement(cls.out_of_limits, amount=cls.amount_out_of_limits())  # Kenya: 5

    def _send(self):
        self.cycle.prepare_payment()
        return self.manager.send_payments(self.cycle.payment_batch_ids)

    def test_bad_payments_fail_up_front_with_a_readable_reason_and_the_rest_is_queued(self):
        self._send()
        good = self.payment_of(self.good)
        self.assertEqual(good.mpesa_state, MPESA.PAY_QUEUED)
        self.assertEqual(good.mpesa_msisdn, self.msisdn("712345678"))
        self.assertEqual(good.state, "issued")
        expectations = {
            self.foreign: MPESA.PREFLIGHT_MSISDN,
            self.landline: MPESA.PREFLIGHT_MSISDN,
            self.no_phone: MPESA.PREFLIGHT_MSISDN,
            self.fraction: MPESA.PREFLIGHT_AMOUNT,
            self.out_of_limits: MPESA.PREFLIGHT_AMOUNT,
        }
        for partner, code in expectations.items():
            payment = self.payment_of(partner)
            self.assertEqual(
                (payment.state, payment.status, payment.mpesa_result_code),
                ("reconciled", "failed", code),
                partner.name,
            )
            self.assertTrue(payment.mpesa_result_desc, partner.name)
            self.assertFalse(payment.mpesa_transaction_ids, "refused payments never reach M-Pesa")
        self.assertIn("0.5", self.payment_of(self.fraction).mpesa_result_desc)

    def test_send_queues_one_job_per_chunk_on_the_mpesa_channel(self):
        self._send()
        jobs = self.env["queue.job"].search([("method_name", "=", "_mpesa_send_chunk")])
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs.channel, "root.mpesa")
        self.assertEqual(jobs.args[0], self.payment_of(self.good).ids)

    def test_batch_is_marked_started_only_when_a_request_leaves(self):
        self._send()
        batch = self.cycle.payment_batch_ids
        self.assertFalse(batch.batch_has_started, "queued is not started")
        self.assertEqual(batch.stats_failed_transactions, 5)
        # The send job reserves the ids: from then on the batch has started (M-Pesa is
        # unreachable here, so the request stays reserved and is resolved by reconciliation).
        self.manager._mpesa_send_chunk(self.payment_of(self.good).ids)
        self.assertTrue(batch.batch_has_started)
        self.assertEqual(self.payment_of(self.good).mpesa_transaction_ids.state, MPESA.TX_RESERVED)

    def test_missing_settings_stop_before_any_payment_changes(self):
        self.manager.sudo().consumer_secret = False
        self.cycle.prepare_payment()
        with self.assertRaisesRegex(UserError, "Consumer secret"):
            self.manager.send_payments(self.cycle.payment_batch_ids)
        payments = self.env["g2p.payment"].search([("cycle_id", "=", self.cycle.id)])
        self.assertTrue(payments)
        self.assertFalse(any(payments.mapped("mpesa_state")))

    def test_wrong_currency_is_refused(self):
        usd = self.env.ref("base.USD")
        usd.active = True
        # A USD journal of its own: with demo data, the program's KES journal shares its bank
        # account with the demo program's, and that account's currency is KES.
        self.program.journal_id = self.env["account.journal"].create(
            {"name": "USD payments", "type": "bank", "code": "TUSD", "currency_id": usd.id}
        )
        self._send()
        self.assertEqual(self.payment_of(self.good).mpesa_result_code, MPESA.PREFLIGHT_CURRENCY)

    def test_float_too_low_refuses_the_whole_send(self):
        self.manager._mpesa_store_float("100.00", None, source="balance")
        self.cycle.prepare_payment()
        with self.assertRaisesRegex(UserError, "float"):
            self.manager.send_payments(self.cycle.payment_batch_ids)

    def test_validated_b2c_needs_the_national_id(self):
        self.require_validated_b2c()
        self.manager.write({"validated_b2c": True, "validation_id_type_id": self.national_id.id})
        self._send()
        self.assertEqual(self.payment_of(self.good).mpesa_result_code, MPESA.PREFLIGHT_ID)


@tagged("post_install", "-at_install")
class TestPreflightET(TestPreflight):
    """The same checks for an Ethiopian manager: birr, +251 7 numbers, 1..150,000 birr."""

    MARKET = "ET"
    CURRENCY = "ETB"
