"""Programs paid through Vodacom's M-Pesa OpenAPI, in a real OpenG2P, into the simulator's Vodacom
market (Tanzania, and the same flow in the DR Congo, Lesotho and Ghana): the session handshake,
synchronous results applied from the answer, a lost answer settled by a status query, a reversal,
asynchronous results at the listener, and the refusals a Vodacom market has."""

import base64

import phonenumbers

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MPESA, MpesaLiveCase

# National numbers per market: four of Vodacom's M-Pesa, another network's, one with no wallet.
NUMBERS = {
    "TZ": ("741000001", "751000002", "761000003", "791000004", "712345678", "749999999"),
    "CD": ("811000001", "821000002", "831000003", "811000004", "991234567", "819999999"),
    "LS": ("58100001", "50100002", "57100003", "59100004", "62123456", "58999999"),
    "GH": ("201000001", "501000002", "201000003", "501000004", "241234567", "209999999"),
    "MZ": ("841000001", "851000002", "841000003", "851000004", "821234567", "849999999"),
}


class _OpenApiCase(MpesaLiveCase):
    MARKET = "TZ"
    SIM_MARKET = "TZ"
    CURRENCY = "TZS"
    # What M-Pesa answers for a number with no wallet.
    NO_WALLET_CODE = "INS-2051"

    @classmethod
    def local(cls, national):
        """As a registration officer types it: with the country's trunk prefix (Lesotho and
        Mozambique have none)."""
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(cls.market().number_plan.region)
        return f"{metadata.national_prefix or ''}{national}"

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
        first, second, third, fourth, other_network, stranger = NUMBERS[cls.MARKET]
        names = ("Neema Mushi", "Baraka Mollel", "Rehema Swai", "Juma Kombo")
        cls.sim.seed(
            wallets=[
                {"msisdn": cls.msisdn(national), "name": name}
                for national, name in zip((first, second, third, fourth), names, strict=True)
            ]
        )
        cls.neema = cls._registrant("Neema", phone=cls.local(first))
        cls.baraka = cls._registrant("Baraka", phone=f"+{cls.msisdn(second)}")
        cls.rehema = cls._registrant("Rehema", phone=cls.local(third))
        cls.juma = cls._registrant("Juma", phone=cls.local(fourth))
        cls.juma_msisdn = cls.msisdn(fourth)
        cls.yas = cls._registrant("Yas", phone=cls.local(other_network))  # not Vodacom's M-Pesa
        cls.stranger = cls._registrant("Stranger", phone=cls.local(stranger))  # no M-Pesa wallet

    def test_the_manager_speaks_the_openapi_of_its_market(self):
        self.assertEqual(self.manager.api_family, "openapi")
        config = self.manager._mpesa_config()
        paths = self.market().api_paths
        self.assertEqual(
            (config.market_context, config.country, config.currency),
            (paths["market_context"], paths["country"], self.CURRENCY),
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
            self.assertEqual(payment.currency_id.name, self.CURRENCY)
            self.assertEqual(payment.mpesa_result_code, "INS-0")
        yas = self.payment_of(self.yas)
        self.assertEqual((yas.status, yas.mpesa_result_code), ("failed", MPESA.PREFLIGHT_MSISDN))
        self.assertFalse(yas.mpesa_transaction_ids, "nothing sent to another network's number")
        stranger = self.payment_of(self.stranger)
        self.assertEqual((stranger.status, stranger.mpesa_result_code), ("failed", self.NO_WALLET_CODE))

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
        wallet = self.sim.admin("GET", f"/sim/admin/wallets/{self.juma_msisdn}")[1]
        self.assertEqual(wallet["balance_cents"], 0)

    def test_the_statement_import_says_why_it_cannot_read_vodacom_statements(self):
        with self.assertRaisesRegex(UserError, "not publicly documented"):
            self.manager.mpesa_import_statement(base64.b64encode(b"Receipt No.,x\n"), "statement.csv")


@tagged("post_install", "-at_install")
class TestDrCongoPaysEndToEnd(TestTanzaniaPaysEndToEnd):
    MARKET = SIM_MARKET = "CD"
    CURRENCY = "USD"


@tagged("post_install", "-at_install")
class TestLesothoPaysEndToEnd(TestTanzaniaPaysEndToEnd):
    MARKET = SIM_MARKET = "LS"
    CURRENCY = "LSL"


@tagged("post_install", "-at_install")
class TestGhanaPaysEndToEnd(TestTanzaniaPaysEndToEnd):
    MARKET = SIM_MARKET = "GH"
    CURRENCY = "GHS"


@tagged("post_install", "-at_install")
class TestMozambiquePaysEndToEnd(TestTanzaniaPaysEndToEnd):
    MARKET = SIM_MARKET = "MZ"
    CURRENCY = "MZN"


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


@tagged("post_install", "-at_install")
class TestMozambiqueOwnApiPaysEndToEnd(TestTanzaniaPaysEndToEnd):
    """Mozambique through Vodacom Mozambique's own API (chosen on the manager): no session, one port
    per operation, results in the answer, Mozambique's codes."""

    MARKET = SIM_MARKET = "MZ"
    CURRENCY = "MZN"
    API_FAMILY = "vodacom_mz"
    NO_WALLET_CODE = "INS-2002"  # Receiver invalid

    def test_the_manager_speaks_the_openapi_of_its_market(self):
        self.assertEqual(self.manager.api_family, "vodacom_mz")
        self.assertTrue(self.manager.api_family_choice, "Mozambique offers two APIs")
        config = self.manager._mpesa_config()
        self.assertEqual(config.url("b2c"), f"{self.sim.base_url}/ipg/v1x/b2cPayment/")
        self.assertEqual(config.currency, "MZN")
        result = self.manager.action_test_connection()
        self.assertIn("status query", result["params"]["message"])

    def test_a_wrong_api_key_is_named_by_test_connection(self):
        self.manager.api_key = "not-the-key"
        with self.assertRaisesRegex(UserError, "refused"):
            self.manager.action_test_connection()

    def test_a_lost_answer_is_settled_by_a_status_query_and_paid_once(self):
        """The status answer says Completed about our reference but names no receipt (MZDOC's
        query answer has none): paid on M-Pesa's word, once, and not reversible from Odoo."""
        self._entitlement(self.rehema)
        self.sim.set_faults(sync_500_processed={"rate": 1.0})
        self.prepare_and_send()
        self.sim.reset_faults()
        payment = self.payment_of(self.rehema)
        self.assertEqual(payment.mpesa_transaction_ids.state, MPESA.TX_UNKNOWN)
        self.make_due(payment)
        self.manager._mpesa_reconcile()
        self.env.invalidate_all()
        tx = payment.mpesa_transaction_ids
        self.assertEqual((payment.status, tx.state), ("paid", MPESA.TX_PAID))
        self.assertEqual(payment.amount_paid, self.AMOUNT)
        self.assertIn("names no receipt", tx.result_desc)
        self.assertEqual(len(self.ledger(payment)), 1, "paid once by M-Pesa")
        self.assertEqual(len(tx), 1, "never sent again under a new id")
        refusal, _tx = payment._mpesa_reversal_refusal()
        self.assertIn("receipt", refusal)

    def test_a_request_m_pesa_never_received_goes_again_under_the_same_reference(self):
        self.sim.seed(wallets=[{"msisdn": self.msisdn("841000009"), "name": "Lurdes Nhantumbo"}])
        lurdes = self._registrant("Lurdes", phone=self.local("841000009"))
        self._entitlement(lurdes)
        self.sim.set_faults(sync_500={"rate": 1.0})  # refused unprocessed: HTTP 500
        self.prepare_and_send()
        self.sim.reset_faults()
        payment = self.payment_of(lurdes)
        tx = payment.mpesa_transaction_ids
        self.assertEqual(tx.state, MPESA.TX_UNKNOWN)
        self.make_due(payment)
        inline = self.manager.with_context(queue_job__no_delay=True)
        inline._mpesa_reconcile()  # INS-23: unknown to M-Pesa, so sent again, same reference
        self.env.invalidate_all()
        self.assertEqual((payment.status, len(payment.mpesa_transaction_ids)), ("paid", 1))
        self.assertEqual(tx.submit_attempts, 2)
        (row,) = self.ledger(payment)
        self.assertEqual(row["receipt"], payment.mpesa_receipt)
