"""A Tanzanian program paid through Vodacom's M-Pesa OpenAPI, in a real OpenG2P, into the
simulator's Vodacom Tanzania: the session handshake, synchronous results applied from the answer,
a lost answer settled by a status query, a duplicate never paid twice, a reversal, asynchronous
results at the listener, and the refusals a Vodacom market has."""

import base64

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MPESA, MpesaLiveCase


class _OpenApiCase(MpesaLiveCase):
    MARKET = "TZ"
    SIM_MARKET = "TZ"
    CURRENCY = "TZS"

    @classmethod
    def _manager_vals(cls, sim):
        vals = super()._manager_vals(None)  # the program's side; the connection is the OpenAPI's
        app = sim.app_settings()
        for name in (
            "consumer_key",
            "consumer_secret",
            "initiator_name",
            "initiator_password",
            "certificate",
        ):
            vals.pop(name, None)
        vals.update(
            base_url=app["base_url"],
            api_key=app["api_key"],
            public_key=app["public_key"],
            shortcode=app["service_provider_code"],
            session_delay_seconds=0,
        )
        return vals

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.set_config(openapi_session_delay_seconds=0, openapi_b2c_mode="sync")

    def setUp(self):
        super().setUp()
        self.sim.set_config(openapi_b2c_mode="sync", openapi_callback_url="")

    def ledger(self, payment):
        return self.sim.transactions(originator_conversation_id=payment.mpesa_originator_conversation_id)

    def make_due(self, payment):
        payment.mpesa_transaction_ids.write(
            {"next_check_at": fields.Datetime.subtract(fields.Datetime.now(), seconds=1)}
        )


@tagged("post_install", "-at_install")
class TestTanzaniaPaysEndToEnd(_OpenApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.seed(
            wallets=[
                {"msisdn": "255741000001", "name": "Neema Mushi"},
                {"msisdn": "255751000002", "name": "Baraka Mollel"},
                {"msisdn": "255761000003", "name": "Rehema Swai"},
                {"msisdn": "255791000004", "name": "Juma Kombo"},
            ]
        )
        cls.neema = cls._registrant("Neema", phone="0741 000 001")
        cls.baraka = cls._registrant("Baraka", phone="+255751000002")
        cls.rehema = cls._registrant("Rehema", phone="0761000003")
        cls.juma = cls._registrant("Juma", phone="0791000004")
        cls.yas = cls._registrant("Yas", phone="0712345678")  # Yas (Tigo), not Vodacom's M-Pesa
        cls.stranger = cls._registrant("Stranger", phone="0749999999")  # no M-Pesa wallet

    def test_the_manager_speaks_the_openapi_of_its_market(self):
        self.assertEqual(self.manager.api_family, "openapi")
        config = self.manager._mpesa_config()
        self.assertEqual(
            (config.market_context, config.country, config.currency), ("vodacomTZN", "TZN", "TZS")
        )
        result = self.manager.action_test_connection()
        self.assertIn("session", result["params"]["message"])

    def test_shillings_reach_vodacom_wallets_with_the_answer_as_the_result(self):
        for partner in (self.neema, self.baraka, self.yas, self.stranger):
            self._entitlement(partner)
        self.prepare_and_send()
        # Synchronous answers: final as soon as the send job has recorded them, no callback.
        for partner in (self.neema, self.baraka):
            payment = self.payment_of(partner)
            self.assertEqual((payment.state, payment.status), ("reconciled", "paid"), partner.name)
            self.assertEqual(payment.amount_paid, self.AMOUNT)
            (row,) = self.ledger(payment)
            self.assertEqual((row["receipt"], row["amount"]), (payment.mpesa_receipt, self.AMOUNT))
            self.assertEqual(payment.currency_id.name, "TZS")
            self.assertEqual(payment.mpesa_result_code, "INS-0")
        yas = self.payment_of(self.yas)
        self.assertEqual((yas.status, yas.mpesa_result_code), ("failed", MPESA.PREFLIGHT_MSISDN))
        self.assertFalse(yas.mpesa_transaction_ids, "nothing sent to another network's number")
        stranger = self.payment_of(self.stranger)
        self.assertEqual((stranger.status, stranger.mpesa_result_code), ("failed", "INS-2051"))

    def test_a_lost_answer_is_settled_by_a_status_query_and_paid_once(self):
        self._entitlement(self.rehema)
        self.sim.set_faults(sync_500_processed={"rate": 1.0})
        self.prepare_and_send()
        self.sim.reset_faults()
        payment = self.payment_of(self.rehema)
        self.assertNotEqual(payment.status, "paid", "an unknown outcome is never taken for paid")
        self.assertEqual(payment.mpesa_transaction_ids.state, MPESA.TX_UNKNOWN)
        self.make_due(payment)
        self.manager._mpesa_reconcile()
        self.env.invalidate_all()
        self.assertEqual(payment.status, "paid")
        (row,) = self.ledger(payment)
        self.assertEqual(row["receipt"], payment.mpesa_receipt)
        self.assertEqual(len(payment.mpesa_transaction_ids), 1, "one request, never a second under a new id")

    def test_a_reversal_takes_the_money_back_through_the_put_route(self):
        self._entitlement(self.juma)
        self.prepare_and_send()
        payment = self.payment_of(self.juma)
        self.assertEqual(payment.status, "paid")
        finance = self.env.ref("base.user_admin")
        reversal = self.manager.with_user(finance)._mpesa_request_reversals(payment, "Paid twice by mistake")
        inline = self.manager.with_context(queue_job__no_delay=True)
        inline._mpesa_send_reversal(reversal.id)
        reversal.invalidate_recordset()
        self.assertEqual(reversal.state, MPESA.REV_REVERSED, reversal.result_desc)
        self.assertTrue(reversal.reversal_receipt)
        wallet = self.sim.admin("GET", "/sim/admin/wallets/255791000004")[1]
        self.assertEqual(wallet["balance_cents"], 0)

    def test_the_statement_import_says_why_it_cannot_read_vodacom_statements(self):
        with self.assertRaisesRegex(UserError, "not publicly documented"):
            self.manager.mpesa_import_statement(base64.b64encode(b"Receipt No.,x\n"), "statement.csv")


@tagged("post_install", "-at_install")
class TestTanzaniaAsynchronousResults(_OpenApiCase):
    """An application set to asynchronous answers: the result comes to the listener (the manager's
    result URL, configured on the portal), in the OpenAPI's input_* shape, answered in its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.seed(wallets=[{"msisdn": "255741000011", "name": "Asha Said"}])
        cls.asha = cls._registrant("Asha", phone="0741000011")

    def test_the_listener_receives_and_applies_the_result(self):
        self.sim.set_config(
            openapi_b2c_mode="async", openapi_callback_url=self.manager._mpesa_callback_url("result")
        )
        self._entitlement(self.asha)
        self.prepare_and_send()
        payment = self.payment_of(self.asha)
        self.assertEqual(payment.mpesa_transaction_ids.state, MPESA.TX_ACCEPTED)
        self.wait_until(lambda: payment.status == "paid", message="the asynchronous result applied")
        (row,) = self.ledger(payment)
        self.assertEqual(row["receipt"], payment.mpesa_receipt)
