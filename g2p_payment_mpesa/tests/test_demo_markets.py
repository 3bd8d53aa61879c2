"""`run.sh --market ET`: the one demo builder, given Ethiopia, pays an ETB program of the
simulator's Ethiopian demo wallets, one outcome per registrant."""

from odoo.tests import tagged

from ..models.payment_manager_demo import DEMO_PROGRAMS
from .common import MpesaLiveCase


@tagged("post_install", "-at_install")
class TestEthiopianDemoProgram(MpesaLiveCase):
    SIM_MARKET = "ET"

    def test_ethiopian_demo_cycle_is_paid_in_birr_with_one_outcome_per_registrant(self):
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        program = Manager._mpesa_create_demo(base_url=self.base_url(), market="ET", sim_url=self.sim.base_url)
        self.assertEqual(Manager._mpesa_create_demo(market="ET"), program, "created once")
        self.assertNotEqual(Manager._mpesa_create_demo(), program, "Kenya's demo is another program")
        self.assertEqual(program.name, DEMO_PROGRAMS["ET"]["program"])
        self.assertEqual(program.journal_id.currency_id.name, "ETB")
        manager = program.get_manager(program.MANAGER_PAYMENT)
        self.assertEqual((manager.market, manager.shortcode), ("ET", self.sim.shortcode))
        self.assertFalse(manager.validated_b2c, "no ID-validated B2C was found for Ethiopia")
        members = program.program_membership_ids.partner_id
        self.assertEqual(
            sorted(members.reg_ids.mapped("value")),
            ["412345678901", "523456789012", "634567890123", "745678901234", "856789012345"],
            "Fayda-style IDs as the simulator's wallets have them",
        )
        phoned = members.filtered("phone_number_ids")
        self.assertEqual(len(phoned), 6)
        self.assertTrue(all(p.phone_number_ids.phone_sanitized.startswith("+2517") for p in phoned))

        payments, outcome = self.pay_demo_cycle(program)
        self.assertEqual(
            outcome,
            {
                "Abebe Kebede": ("paid", "0"),
                "Tigist Haile": ("paid", "0"),
                "Almaz Tesfaye": ("paid", "0"),
                "Dawit Bekele": ("paid", "0"),
                "Unregistered Line": ("failed", "2040"),
                "Frozen Account": ("failed", "2006"),
            },
        )
        self.assertEqual(set(payments.currency_id.mapped("name")), {"ETB"})
        self.assertEqual(
            sorted(payments.filtered("mpesa_msisdn").mapped("mpesa_msisdn")),
            ["251700000005", "251711000003", "251712345678", "251722000001", "251733000002", "251799000004"],
        )
        paid = payments.filtered(lambda p: p.status == "paid")
        ledger = {t["receipt"]: t["amount"] for t in self.sim.transactions()}
        self.assertTrue(all(ledger.get(p.mpesa_receipt) == p.amount_issued for p in paid), ledger)
