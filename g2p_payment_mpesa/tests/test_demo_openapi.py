"""`run.sh --market TZ` (and CD, LS, GH): the one demo builder, given a Vodacom market, reads the
API key of the simulator's OpenAPI application with its admin token, fetches its public key, and
pays a program of the simulator's demo wallets in the market's currency, one outcome per
registrant: paid in the B2C answer, an unknown or frozen wallet INS-2051, another network's number
refused before sending."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..models.payment_manager_demo import DEMO_PROGRAMS
from .common import MPESA, MpesaLiveCase


@tagged("post_install", "-at_install")
class TestTanzanianDemoProgram(MpesaLiveCase):
    SIM_MARKET = "TZ"
    CURRENCY_NAME = "TZS"
    PAID = ("Neema Mwakyusa", "Juma Mwinyi", "Baraka Massawe")
    OTHER_NETWORK = "Halima Said"
    MSISDNS = ["255740000005", "255754123456", "255759000004", "255764000001", "255794000003"]

    @classmethod
    def _manager_vals(cls, sim):
        # The fixture's own manager (Kenyan, never called): the demo builds its own.
        return super()._manager_vals(None)

    def test_the_demo_without_the_admin_token_is_refused_and_creates_nothing(self):
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        with self.assertRaisesRegex(UserError, "admin token"):
            Manager._mpesa_create_demo(market=self.SIM_MARKET, sim_url=self.sim.base_url)
        with self.assertRaisesRegex(UserError, "admin token"):
            Manager._mpesa_create_demo(market=self.SIM_MARKET, sim_url=self.sim.base_url, sim_admin_token="x")
        name = DEMO_PROGRAMS[self.SIM_MARKET]["program"]
        self.assertFalse(self.env["g2p.program"].search([("name", "=", name)]))

    def test_the_demo_cycle_is_paid_through_the_openapi_with_one_outcome_per_registrant(self):
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        self.sim.set_config(openapi_session_delay_seconds=30)  # the simulator's default: the demo lifts it
        program = Manager._mpesa_create_demo(
            base_url=self.base_url(),
            market=self.SIM_MARKET,
            sim_url=self.sim.base_url,
            sim_admin_token=self.sim.admin_token,
        )
        self.assertEqual(Manager._mpesa_create_demo(market=self.SIM_MARKET), program, "created once")
        self.assertEqual(program.name, DEMO_PROGRAMS[self.SIM_MARKET]["program"])
        self.assertEqual(program.journal_id.currency_id.name, self.CURRENCY_NAME)
        manager = program.get_manager(program.MANAGER_PAYMENT).sudo()
        app = self.sim.app_settings()
        self.assertEqual((manager.market, manager.api_family), (self.SIM_MARKET, "openapi"))
        self.assertEqual(
            (manager.api_key, manager.public_key, manager.shortcode),
            (app["api_key"], app["public_key"], app["service_provider_code"]),
            "the simulator's application key, its public key, its ServiceProviderCode",
        )
        self.assertFalse(manager.consumer_key or manager.initiator_name, "no Daraja credentials")
        self.assertEqual(manager.session_delay_seconds, 0)
        self.assertEqual(self.sim.admin("GET", "/sim/admin/config")[1]["openapi_session_delay_seconds"], 0)
        self.assertFalse(manager.validated_b2c, "the OpenAPI has no ID-validated B2C")
        self.assertIn("session", manager.action_test_connection()["params"]["message"])

        payments, outcome = self.pay_demo_cycle(program)
        expected = {name: ("paid", "INS-0") for name in self.PAID}
        expected.update(
            {
                "Unregistered Line": ("failed", "INS-2051"),
                "Frozen Account": ("failed", "INS-2051"),  # no inactive-account code in the OpenAPI
                self.OTHER_NETWORK: ("failed", MPESA.PREFLIGHT_MSISDN),
            }
        )
        self.assertEqual(outcome, expected)
        self.assertEqual(set(payments.currency_id.mapped("name")), {self.CURRENCY_NAME})
        other = payments.filtered(lambda p: p.partner_id.name == self.OTHER_NETWORK)
        self.assertFalse(other.mpesa_transaction_ids, "nothing sent to another network's number")
        self.assertEqual(sorted(payments.filtered("mpesa_msisdn").mapped("mpesa_msisdn")), self.MSISDNS)
        paid = payments.filtered(lambda p: p.status == "paid")
        ledger = {t["receipt"]: t["amount"] for t in self.sim.transactions()}
        self.assertTrue(all(ledger.get(p.mpesa_receipt) == p.amount_issued for p in paid), ledger)
        amount = DEMO_PROGRAMS[self.SIM_MARKET]["amount"]
        self.assertEqual(set(paid.mapped("amount_paid")), {amount})


@tagged("post_install", "-at_install")
class TestCongoleseDemoProgram(TestTanzanianDemoProgram):
    SIM_MARKET = "CD"
    CURRENCY_NAME = "USD"
    PAID = ("Esther Mukendi", "Jean Ilunga", "Didier Tshibangu")
    OTHER_NETWORK = "Patrick Mbuyi"
    MSISDNS = ["243810000005", "243812000003", "243812345678", "243822000001", "243829000004"]


@tagged("post_install", "-at_install")
class TestBasothoDemoProgram(TestTanzanianDemoProgram):
    SIM_MARKET = "LS"
    CURRENCY_NAME = "LSL"
    PAID = ("Palesa Mohapi", "Thabo Mofokeng", "Tumelo Ramakatane")
    OTHER_NETWORK = "Mpho Nthako"
    MSISDNS = ["26650000003", "26650000005", "26658123456", "26659000001", "26659900004"]


@tagged("post_install", "-at_install")
class TestGhanaianDemoProgram(TestTanzanianDemoProgram):
    SIM_MARKET = "GH"
    CURRENCY_NAME = "GHS"
    PAID = ("Ama Mensah", "Kwame Asante", "Kofi Boateng")
    OTHER_NETWORK = "Yaw Owusu"
    MSISDNS = ["233201234567", "233209000004", "233500000005", "233501000003", "233502000001"]


@tagged("post_install", "-at_install")
class TestMozambicanDemoProgram(TestTanzanianDemoProgram):
    """Mozambique's demo pays through Vodacom Mozambique's own API (chosen on its manager)."""

    SIM_MARKET = "MZ"
    CURRENCY_NAME = "MZN"
    PAID = ("Ana Machava", "Carlos Mondlane", "Armando Cossa")
    OTHER_NETWORK = "Rosa Sitoe"
    MSISDNS = ["258840000005", "258841234567", "258849000004", "258851000003", "258852000001"]

    def test_the_demo_cycle_is_paid_through_the_openapi_with_one_outcome_per_registrant(self):
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        program = Manager._mpesa_create_demo(
            base_url=self.base_url(),
            market="MZ",
            sim_url=self.sim.base_url,
            sim_admin_token=self.sim.admin_token,
        )
        manager = program.get_manager(program.MANAGER_PAYMENT).sudo()
        mz = self.sim.mz
        self.assertEqual((manager.market, manager.api_family), ("MZ", "vodacom_mz"))
        self.assertEqual(
            (manager.api_key, manager.public_key, manager.shortcode, manager.initiator_name),
            (mz["api_key"], mz["public_key"], mz["service_provider_code"], mz["initiator_identifier"]),
            "the simulator's MZ key, its public key, its ServiceProviderCode, its initiator",
        )
        self.assertIn("status query", manager.action_test_connection()["params"]["message"])
        payments, outcome = self.pay_demo_cycle(program)
        expected = {name: ("paid", "INS-0") for name in self.PAID}
        expected.update(
            {
                "Unregistered Line": ("failed", "INS-2002"),  # Mozambique's "Receiver invalid"
                "Frozen Account": ("failed", "INS-996"),  # Mozambique's "account not active"
                self.OTHER_NETWORK: ("failed", MPESA.PREFLIGHT_MSISDN),
            }
        )
        self.assertEqual(outcome, expected)
        self.assertEqual(sorted(payments.filtered("mpesa_msisdn").mapped("mpesa_msisdn")), self.MSISDNS)
        paid = payments.filtered(lambda p: p.status == "paid")
        ledger = {t["receipt"]: t["amount"] for t in self.sim.transactions()}
        self.assertTrue(all(ledger.get(p.mpesa_receipt) == p.amount_issued for p in paid), ledger)
