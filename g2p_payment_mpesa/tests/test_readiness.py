"""A new program says what OpenG2P still needs before M-Pesa can pay it, and where to set it;
a local phone number is read in the market's country."""

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import MpesaTransactionCase


@tagged("post_install", "-at_install")
class TestReadiness(MpesaTransactionCase):
    def test_a_new_program_names_everything_missing_then_nothing(self):
        problems = self.manager._mpesa_readiness_problems()
        text = "\n".join(problems)
        self.assertIn("No beneficiary is enrolled", text)
        self.assertIn("No cycle approver group", text)
        self.assertIn("no posted fund", text)
        self.assertEqual(self.manager.mpesa_readiness, text)
        self.assertEqual(self.cycle.mpesa_readiness, text, "the approver sees it on the cycle too")

        person = self._registrant("Ready", phone="0712 000 001")
        self.program.program_membership_ids = [(0, 0, {"partner_id": person.id, "state": "enrolled"})]
        self.program.get_manager(self.program.MANAGER_CYCLE).approver_group_id = self.env.ref(
            "g2p_programs.g2p_program_cycle_approver"
        )
        fund = self.env["g2p.program.fund"].create({"program_id": self.program.id, "amount": 1000})
        fund.post_fund()
        self.manager.invalidate_recordset(["mpesa_readiness"])
        self.assertEqual(self.manager._mpesa_readiness_problems(), [])
        self.assertFalse(self.manager.mpesa_readiness)

    def test_a_program_in_another_currency_is_named_with_the_market_currency(self):
        # A KES program whose manager is set to Tanzania (TZS): the admin is told, with where.
        manager = self.manager.copy({"market": "TZ", "api_family": "openapi", "program_id": self.program.id})
        text = "\n".join(manager._mpesa_readiness_problems())
        self.assertIn("pays in KES but M-Pesa Tanzania pays TZS", text)

    def test_a_local_number_is_read_in_the_market_country(self):
        self.env.company.country_id = self.env.ref("base.us")
        person = self._registrant("Local")
        form = Form(self.env["g2p.phone.number"].with_context(default_partner_id=person.id))
        self.assertEqual(form.country_id, self.env.ref("base.ke"), "the market's country by default")
        form.phone_no = "0733 000 002"
        self.assertTrue(form.phone_no, "not cleared")
        phone = form.save()
        self.assertEqual(phone.phone_sanitized, "+254733000002")


@tagged("post_install", "-at_install")
class TestPayWithMpesa(MpesaTransactionCase):
    """Choosing M-Pesa on a program is one step: its own manager, in its currency's market."""

    def _program(self, currency):
        wizard = self.env["g2p.program.create.wizard"].create(
            {
                "name": f"New program {currency}",
                "currency_id": self.env.ref(f"base.{currency}").id,
                "amount_per_cycle": 100,
                "target_type": "individual",
            }
        )
        self.env.ref(f"base.{currency}").active = True
        return self.env["g2p.program"].browse(wizard.create_program()["res_id"])

    def test_one_click_makes_the_programs_own_manager_in_its_currencys_market(self):
        program = self._program("TZS")
        action = program.action_mpesa_pay_with_mpesa()
        manager = self.env["g2p.program.payment.manager.mpesa"].browse(action["res_id"])
        self.assertEqual((manager.program_id, manager.market, manager.api_family), (program, "TZ", "openapi"))
        self.assertEqual(program.get_manager(program.MANAGER_PAYMENT), manager)
        self.assertEqual(action["target"], "new")
        self.assertIn(program.name, action["name"], "the dialog has a real title")
        again = program.action_mpesa_pay_with_mpesa()
        self.assertEqual(again["res_id"], manager.id, "the same manager, not a second one")

    def test_the_manager_made_in_one_click_prepares_payments(self):
        # Payments are prepared per batch tag: a manager made without one prepared none.
        program = self._program("KES")
        manager = self.env["g2p.program.payment.manager.mpesa"].browse(
            program.action_mpesa_pay_with_mpesa()["res_id"]
        )
        self.assertTrue(manager.create_batch)
        self.assertEqual(manager.batch_tag_ids.mapped("domain"), ["[]"])
        cycle = self.env["g2p.cycle"].create(
            {"name": "One click", "program_id": program.id, "start_date": self.cycle.start_date,
             "end_date": self.cycle.end_date}
        )  # fmt: skip
        partner = self._registrant("Neema", phone="0712345678")
        self.env["g2p.entitlement"].create(
            {"partner_id": partner.id, "cycle_id": cycle.id, "initial_amount": 100, "state": "approved",
             "is_cash_entitlement": True}
        )  # fmt: skip
        manager.prepare_payments(cycle)
        self.assertEqual(len(self.payment_of(partner)), 1)
        self.assertTrue(self.payment_of(partner).batch_id)

    def test_a_currency_no_market_pays_in_is_refused_with_the_choices(self):
        program = self._program("EUR")
        with self.assertRaisesRegex(UserError, r"No M-Pesa market pays in EUR.*Kenya \(KES\)"):
            program.action_mpesa_pay_with_mpesa()

    def test_the_managers_offered_on_a_program_are_its_own(self):
        other = self._program("KES")
        other.action_mpesa_pay_with_mpesa()
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        offered = Manager.with_context(default_program_id=self.program.id).name_search("")
        self.assertEqual([row[0] for row in offered], [self.manager.id])


@tagged("post_install", "-at_install")
class TestOutcomeReadsFirst(MpesaTransactionCase):
    """OpenG2P's status bar says "Reconciled" for a failed or reversed payment too: the payment
    form says M-Pesa's outcome first."""

    def test_the_payment_form_leads_with_m_pesas_failure_reversal_or_review(self):
        arch = self.env["g2p.payment"].get_views([(False, "form")])["views"]["form"]["arch"]
        for outcome, state in (
            ("Failed on M-Pesa", "failed"),
            ("Reversed on M-Pesa", "reversed"),
            ("Needs review", "needs_review"),
        ):
            self.assertIn(outcome, arch)
            self.assertIn(f"mpesa_state != '{state}'", arch)
        self.assertLess(arch.index("Failed on M-Pesa"), arch.index("<sheet"), "above the sheet")

    def test_the_payment_forms_m_pesa_labels_fit(self):
        """No label of the payment's M-Pesa fields has a word too long for the form's label column
        ("OriginatorConversationID" broke mid-word there)."""
        for name, field in self.env["g2p.payment"]._fields.items():
            if name.startswith("mpesa_"):
                self.assertLessEqual(max(map(len, field.string.split())), 20, (name, field.string))


@tagged("post_install", "-at_install")
class TestSendStepsBack(MpesaTransactionCase):
    def test_send_payments_steps_back_once_every_batch_is_sent(self):
        person = self._registrant("Sent", phone="0712 000 002")
        self._entitlement(person)
        self.cycle.state = "approved"
        self.cycle.prepare_payment()
        self.cycle.invalidate_recordset(["mpesa_unsent_batch_count"])
        self.assertEqual(self.cycle.mpesa_unsent_batch_count, 1)
        self.cycle.payment_batch_ids.batch_has_started = True
        self.cycle.invalidate_recordset(["mpesa_unsent_batch_count"])
        self.assertEqual(self.cycle.mpesa_unsent_batch_count, 0)
        arch = self.env["g2p.cycle"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("mpesa_unsent_batch_count == 0", arch)

    def test_a_cycle_opened_from_its_program_shows_its_m_pesa_section(self):
        arch = self.env["g2p.program"].get_views([(False, "form")])["views"]["form"]["arch"]
        dialog = arch[arch.index('name="cycle_ids"') :]
        self.assertIn("mpesa_progress_dialog", dialog)
        self.assertIn("mpesa_paid_count", dialog)
        self.assertIn("mpesa_readiness", dialog)

    def test_the_manager_dialog_opened_from_the_program_has_a_real_title(self):
        reference = self.program.payment_managers[:1]
        action = reference.open_manager_form()
        self.assertEqual(action["res_model"], "g2p.program.payment.manager.mpesa")
        self.assertEqual(action["name"], f"M-Pesa payment manager of {self.program.name}")
        # A dialog too: Copy callback URL's Close leads back to it.
        self.assertEqual((action["target"], action["context"].get("mpesa_manager_dialog")), ("new", True))


@tagged("post_install", "-at_install")
class TestSparLink(MpesaTransactionCase):
    """A wallet opened at ID issuance is linked in SPAR to the ID the program sends to G2P Bridge,
    as SPAR's mobile-wallet address (linked in a real SPAR by the bridge suite: tests/test_bridge_e2e.py)."""

    def test_the_opened_wallets_owners_are_linked_by_the_programs_beneficiary_id(self):
        person = self._registrant("Linked", phone="0712 000 003", national_id="12345678")
        other = self._registrant("Unopened", phone="0712 000 004", national_id="87654321")
        wallets = [{"msisdn": "254712000003"}]
        self.assertEqual(self.manager._mpesa_spar_items(wallets, person | other), [], "no mapper: no link")
        self.manager.write({"spar_mapper_url": "http://spar.test", "spar_id_type_id": self.national_id.id})
        self.assertEqual(
            self.manager._mpesa_spar_items(wallets, person | other),
            [
                {
                    "id": "12345678",
                    "fa": "mobile_number:254712000003.wallet_provider_name:M-Pesa.wallet_provider_code:MPESA"
                    ".fa_type:MOBILE_WALLET",
                    "name": person.name,
                    "phone_number": "254712000003",
                }
            ],
        )
