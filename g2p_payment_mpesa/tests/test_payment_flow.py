from odoo.tests import tagged

from .common import MPESA, MpesaLiveCase


@tagged("post_install", "-at_install")
class TestPaymentFlow(MpesaLiveCase):
    """From approved entitlements to paid payments, through the real simulator and callbacks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.seed(
            wallets=[
                {"msisdn": cls.msisdn("711000001"), "name": "Amina Wanjiru", "id_number": "10000001"},
                {"msisdn": cls.msisdn("711000002"), "name": "Brian Otieno", "id_number": "10000002"},
                {"msisdn": cls.msisdn("711000003"), "name": "Not Registered", "registered": False},
                {"msisdn": cls.msisdn("711000004"), "name": "Other Person", "id_number": "99999999"},
            ]
        )
        cls.amina = cls._registrant("Amina", phone="0711 000 001", national_id="10000001")
        cls.brian = cls._registrant("Brian", phone="+" + cls.msisdn("711000002"), national_id="10000002")
        cls.unregistered = cls._registrant("Unregistered", phone="0711000003")
        cls.bad_number = cls._registrant("Badnumber", phone=cls.landline_number())
        cls.recycled = cls._registrant("Recycled", phone="0711000004", national_id="10000004")

    def _final(self, partners):
        return all(self.payment_of(p).status_is_final for p in partners)

    def test_cycle_is_paid_end_to_end_with_receipts_from_mpesa(self):
        partners = (self.amina, self.brian, self.unregistered, self.bad_number)
        for partner in partners:
            self._entitlement(partner)
        self.prepare_and_send()
        self.wait_until(lambda: self._final(partners), message="every payment final")

        for partner in (self.amina, self.brian):
            payment = self.payment_of(partner)
            self.assertEqual((payment.state, payment.status), ("reconciled", "paid"), partner.name)
            self.assertEqual(payment.amount_paid, self.AMOUNT)
            ledger = self.sim.transactions(
                originator_conversation_id=payment.mpesa_originator_conversation_id
            )
            self.assertEqual(len(ledger), 1, "exactly one M-Pesa transaction")
            self.assertEqual(ledger[0]["receipt"], payment.mpesa_receipt)
            self.assertEqual(ledger[0]["amount"], self.AMOUNT)
            self.assertRegex(payment.mpesa_receipt, r"^[A-Z][A-L][1-9A-V][A-Z0-9]{7}$")

        unregistered = self.payment_of(self.unregistered)
        self.assertEqual((unregistered.status, unregistered.mpesa_result_code), ("failed", "2040"))
        bad = self.payment_of(self.bad_number)
        self.assertEqual((bad.status, bad.mpesa_result_code), ("failed", MPESA.PREFLIGHT_MSISDN))
        self.assertFalse(bad.mpesa_transaction_ids)

        batch = self.cycle.payment_batch_ids
        batch._mpesa_update_stats()
        self.assertEqual((batch.stats_paid_transactions, batch.stats_failed_transactions), (2, 2))
        self.assertEqual(batch.stats_paid_amount, 2 * self.AMOUNT)
        self.assertTrue(batch.batch_has_completed)
        self.assertIn("completed: 2 paid", self.cycle.message_ids[0].body)

    def test_sms_reaches_the_beneficiary(self):
        self._entitlement(self.amina)
        answer = self.prepare_and_send()
        # One payment is "1 payment", in the one money format (currency code, separators, cents).
        amount = f"{self.AMOUNT:,}.00"
        self.assertIn(f"1 payment queued for M-Pesa ({self.CURRENCY} {amount})", answer["params"]["message"])
        self.wait_until(lambda: self._final([self.amina]), message="payment final")
        status, inbox = self.sim.admin("GET", f"/sim/admin/sms?msisdn={self.msisdn('711000001')}")
        self.assertEqual(status, 200)
        self.assertTrue(any(self.payment_of(self.amina).mpesa_receipt in sms["body"] for sms in inbox), inbox)

    def test_validated_b2c_pays_the_right_person_and_refuses_a_recycled_number(self):
        self.require_validated_b2c()
        self.manager.write({"validated_b2c": True, "validation_id_type_id": self.national_id.id})
        self._entitlement(self.amina)
        self._entitlement(self.recycled)
        self.prepare_and_send()
        self.wait_until(lambda: self._final([self.amina, self.recycled]), message="payments final")
        self.assertEqual(self.payment_of(self.amina).status, "paid")
        recycled = self.payment_of(self.recycled)
        self.assertEqual((recycled.status, recycled.mpesa_result_code), ("failed", "R003"))
        self.assertFalse(self.sim.transactions(msisdn=self.msisdn("711000004"), status="completed"))

    def test_failed_payment_is_paid_again_through_openg2p_flow(self):
        self._entitlement(self.unregistered)
        self.prepare_and_send()
        self.wait_until(lambda: self._final([self.unregistered]), message="payment final")
        first = self.payment_of(self.unregistered)
        self.assertEqual(first.status, "failed")
        # The beneficiary registers with M-Pesa; the approver prepares payments again.
        self.sim.seed(wallets=[{"msisdn": self.msisdn("711000003"), "registered": True}])
        self.prepare_and_send()
        second = self.payment_of(self.unregistered)
        self.assertNotEqual(first, second)
        self.wait_until(lambda: second.status_is_final, message="second payment final")
        self.assertEqual(second.status, "paid")
        self.assertEqual(len(self.env["g2p.payment"].search([("partner_id", "=", self.unregistered.id)])), 2)

    def test_test_connection_reports_the_float(self):
        self.manager.action_test_connection()
        self.wait_until(lambda: self.manager.float_utility_balance, message="balance callback")
        self.assertGreater(float(self.manager.float_utility_balance), 0)


@tagged("post_install", "-at_install")
class TestPaymentFlowET(TestPaymentFlow):
    """The same flow in Ethiopia: birr to Safaricom Ethiopia's +251 7 wallets (no ID-validated B2C)."""

    MARKET = SIM_MARKET = "ET"
    CURRENCY = "ETB"


@tagged("post_install", "-at_install")
class TestDemoProgram(MpesaLiveCase):
    """The README's main command pays this program: each registrant shows one outcome."""

    def test_demo_cycle_is_paid_with_one_outcome_per_registrant(self):
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        program = Manager._mpesa_create_demo(base_url=self.base_url())
        self.assertEqual(Manager._mpesa_create_demo(), program, "created once")
        manager = program.get_manager(program.MANAGER_PAYMENT)
        manager.base_url = self.sim.base_url  # the demo's simulator runs on 8090; this one elsewhere
        payments, outcome = self.pay_demo_cycle(program)
        self.assertEqual(
            outcome,
            {
                "Amina Wanjiru": ("paid", "0"),
                "Peter Otieno": ("paid", "0"),
                "Grace Achieng": ("paid", "0"),
                "John Kamau": ("failed", "R002"),
                "Unregistered Line": ("failed", "2040"),
                "Mary Njeri": ("failed", MPESA.PREFLIGHT_MSISDN),
            },
        )
