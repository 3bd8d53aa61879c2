"""The manager's market: Kenya by default and as before; Ethiopia's currency, numbers and routes."""

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..models.payment_manager_dispatch import PreflightError
from .common import MPESA, MpesaLiveCase, MpesaTransactionCase


@tagged("post_install", "-at_install")
class TestManagerMarket(MpesaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etb = cls.env.ref("base.ETB")
        cls.etb.active = True
        cls.abebe = cls.env["res.partner"].create(
            {"name": "Abebe Bikila", "given_name": "Abebe", "family_name": "Bikila", "is_registrant": True}
        )
        cls.env["g2p.phone.number"].create(
            {"partner_id": cls.abebe.id, "phone_no": "0712345678", "country_id": cls.env.ref("base.et").id}
        )

    def test_a_manager_pays_in_kenya_unless_told_otherwise(self):
        self.assertEqual(self.manager.market, "KE")
        config = self.manager._mpesa_config()
        self.assertEqual(
            (config.token_path, config.b2c_path), ("/oauth/v1/generate", "/mpesa/b2c/v3/paymentrequest")
        )
        with self.assertRaisesRegex(PreflightError, "pays in KES"):
            self.manager._mpesa_check_payee(self.abebe, 500, self.etb)

    def test_an_ethiopian_manager_pays_birr_to_safaricom_ethiopia_numbers_through_its_routes(self):
        self.manager.market = "ET"
        self.manager._onchange_market()
        self.assertEqual((self.manager.min_amount, self.manager.max_amount), (1, 150_000))
        msisdn, amount, _id_type, _id_number = self.manager._mpesa_check_payee(self.abebe, 500, self.etb)
        self.assertEqual((msisdn, amount), ("251712345678", 500))
        with self.assertRaises(PreflightError) as refused:
            self.manager._mpesa_check_payee(self.abebe, 500, self.kes)
        self.assertEqual(refused.exception.code, MPESA.PREFLIGHT_CURRENCY)
        self.abebe.phone_number_ids.phone_no = "0911234567"  # Ethio telecom, not M-Pesa
        with self.assertRaisesRegex(PreflightError, "not on M-Pesa Ethiopia's network"):
            self.manager._mpesa_check_payee(self.abebe, 500, self.etb)
        config = self.manager._mpesa_config()
        self.assertEqual(
            (config.token_path, config.b2c_path, config.balance_path, config.number_plan.country_code),
            ("/v1/token/generate", "/mpesa/b2c/v2/paymentrequest", "/mpesa/accountbalance/v2/query", 251),
        )
        self.manager.environment = "production"
        self.manager._onchange_environment()
        self.assertEqual(self.manager.base_url, "https://api.safaricom.et")

    def test_a_manager_made_in_code_gets_its_markets_limits(self):
        vals = self._manager_vals(None)
        vals.pop("min_amount", None)
        vals.pop("max_amount", None)
        manager = self.env["g2p.program.payment.manager.mpesa"].create(dict(vals, market="ET"))
        self.assertEqual((manager.min_amount, manager.max_amount), (1, 150_000))

    def test_a_market_without_validated_b2c_refuses_the_setting(self):
        self.manager.market = "ET"
        with self.assertRaisesRegex(ValidationError, "no ID-validated B2C"):
            self.manager.write({"validated_b2c": True, "validation_id_type_id": self.national_id.id})


@tagged("post_install", "-at_install")
class TestEthiopiaPaysEndToEnd(MpesaLiveCase):
    """An Ethiopian program (ETB) paid through the manager's Ethiopian market into the simulator's
    Safaricom Ethiopia (its own token and B2C v2 routes, +251 7 wallets)."""

    MARKET = "ET"
    SIM_MARKET = "ET"
    CURRENCY = "ETB"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.seed(
            wallets=[
                {"msisdn": "251712000001", "name": "Almaz Tadesse", "id_number": "100000000001"},
                {"msisdn": "251712000002", "name": "Dawit Bekele", "id_number": "100000000002"},
            ]
        )
        cls.almaz = cls._registrant("Almaz", phone="+251712000001")
        cls.dawit = cls._registrant("Dawit", phone="0712000002")
        cls.ethio = cls._registrant("Ethio", phone="+251911234567")

    def test_birr_reach_ethiopian_wallets_with_receipts_from_mpesa(self):
        for partner in (self.almaz, self.dawit, self.ethio):
            self._entitlement(partner)
        self.prepare_and_send()
        paid = (self.almaz, self.dawit)
        self.wait_until(lambda: all(self.payment_of(p).status == "paid" for p in paid), message="paid")
        for partner in paid:
            payment = self.payment_of(partner)
            ledger = self.sim.transactions(
                originator_conversation_id=payment.mpesa_originator_conversation_id
            )
            self.assertEqual(len(ledger), 1)
            self.assertEqual(
                (ledger[0]["receipt"], ledger[0]["amount"]), (payment.mpesa_receipt, self.AMOUNT)
            )
            self.assertEqual(payment.currency_id.name, "ETB")
        ethio = self.payment_of(self.ethio)
        self.assertEqual((ethio.status, ethio.mpesa_result_code), ("failed", MPESA.PREFLIGHT_MSISDN))
        self.assertFalse(ethio.mpesa_transaction_ids, "nothing was sent for an Ethio telecom number")
