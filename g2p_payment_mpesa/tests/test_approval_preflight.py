"""Whoever approves money sees, before approving, what M-Pesa would refuse (invariant 4)."""

from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged

from odoo.addons.queue_job.job import Job

from .common import MPESA, MpesaTransactionCase


@tagged("post_install", "-at_install")
class TestApprovalPreflight(MpesaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.good = cls._registrant("Good", phone="0712 345 678")
        cls.foreign = cls._registrant("Foreign", phone="+1 202 555 0143")
        cls.fraction = cls._registrant("Fraction", phone="0722000111")
        cls.entitlements = cls._entitlement(cls.good) | cls._entitlement(cls.foreign)
        cls.entitlements |= cls._entitlement(cls.fraction, amount=100.5)
        cls.entitlements.state = "pending_validation"
        cls.cycle.state = "to_approve"
        cls.cycle_manager = cls.program.get_manager(cls.program.MANAGER_CYCLE)
        cls.cycle_manager.approver_group_id = cls.env.ref("g2p_programs.g2p_program_cycle_approver")
        cls.fund = cls.env["g2p.program.fund"].create(
            {"program_id": cls.program.id, "amount": 100_000, "remarks": "Budget"}
        )
        cls.fund.post_fund()

    def _wizard(self, action):
        self.assertEqual(action.get("res_model"), "g2p.mpesa.preflight", action)
        return self.env["g2p.mpesa.preflight"].browse(action["res_id"])

    def test_check_lists_every_payee_mpesa_would_refuse_and_changes_nothing(self):
        wizard = self._wizard(self.cycle.action_mpesa_check_payees())
        refused = {line.partner_id: line.code for line in wizard.line_ids}
        self.assertEqual(
            refused, {self.foreign: MPESA.PREFLIGHT_MSISDN, self.fraction: MPESA.PREFLIGHT_AMOUNT}
        )
        self.assertIn("0.5", wizard.line_ids.filtered(lambda line: line.partner_id == self.fraction).reason)
        self.assertEqual((wizard.checked_count, wizard.total_text), (3, "KES 500"))
        self.assertFalse(wizard.then)
        self.assertEqual(self.cycle.state, "to_approve")
        self.assertEqual(set(self.entitlements.mapped("state")), {"pending_validation"})
        self.assertFalse(self.env["g2p.payment"].search([("cycle_id", "=", self.cycle.id)]))

    def test_approving_with_problems_asks_first_and_names_them(self):
        wizard = self._wizard(self.cycle.approve())
        self.assertEqual(wizard.then, "approve")
        self.assertEqual(len(wizard.line_ids), 2)
        self.assertIn("2 of 3", wizard.summary)
        self.assertEqual(self.cycle.state, "to_approve", "nothing approved before the approver confirms")
        wizard.action_proceed()
        self.assertEqual(self.cycle.state, "approved")

    def test_approving_entitlements_one_by_one_asks_too(self):
        self.cycle.state = "approved"
        wizard = self._wizard(
            self.entitlements.filtered(lambda e: e.partner_id == self.foreign).approve_entitlement()
        )
        self.assertEqual((wizard.then, wizard.line_ids.partner_id), ("entitlements", self.foreign))
        good = self.entitlements.filtered(lambda e: e.partner_id == self.good)
        answer = good.approve_entitlement() or {}
        self.assertNotEqual(answer.get("res_model"), "g2p.mpesa.preflight", "a good payee is not asked about")

    def test_a_short_float_is_named(self):
        self.manager._mpesa_store_float("400.00", None, source="balance")
        wizard = self._wizard(self.cycle.action_mpesa_check_payees())
        self.assertIn(MPESA.PREFLIGHT_FLOAT, wizard.line_ids.mapped("code"))

    def test_validated_payments_need_the_id(self):
        self.manager.write({"validated_b2c": True, "validation_id_type_id": self.national_id.id})
        wizard = self._wizard(self.cycle.action_mpesa_check_payees())
        self.assertEqual(
            wizard.line_ids.filtered(lambda line: line.partner_id == self.good).code, MPESA.PREFLIGHT_ID
        )

    def test_nothing_to_report_approves_straight_away(self):
        self.entitlements.filtered(lambda e: e.partner_id != self.good).state = "cancelled"
        action = self.cycle.approve()
        self.assertNotEqual((action or {}).get("res_model"), "g2p.mpesa.preflight")
        self.assertEqual(self.cycle.state, "approved")

    # OpenG2P's own checks speak before M-Pesa's question, which is asked once.

    def test_no_approver_group_is_openg2ps_answer_not_an_m_pesa_question(self):
        self.cycle_manager.approver_group_id = False
        with self.assertRaisesRegex(ValidationError, "approver group is not specified"):
            self.cycle.approve()

    def test_an_approver_outside_the_group_is_refused_before_any_m_pesa_question(self):
        outsider = new_test_user(self.env, login="outsider", groups="g2p_registry_base.group_g2p_admin")
        with self.assertRaisesRegex(ValidationError, "not allowed to approve"):
            self.cycle.with_user(outsider).approve()

    def test_a_fund_too_small_is_openg2ps_answer_before_m_pesa_is_asked(self):
        self.cycle.state = "approved"
        # More than the fund's 100,000 (and within M-Pesa's limits): OpenG2P refuses the lot.
        self.entitlements.filtered(lambda e: e.partner_id == self.good).initial_amount = 150_000
        foreign = self.entitlements.filtered(lambda e: e.partner_id == self.foreign)
        answer = self.entitlements.approve_entitlement() or {}
        self.assertNotEqual(answer.get("res_model"), "g2p.mpesa.preflight")
        self.assertIn("insufficient", str(answer.get("params", {}).get("message")), answer)
        self.assertEqual(foreign.state, "pending_validation")

    def test_confirmed_entitlements_are_not_asked_about_again(self):
        self.cycle_manager.auto_approve_entitlements = False
        wizard = self._wizard(self.cycle.approve())
        wizard.action_proceed()
        self.assertEqual(self.cycle.state, "approved")
        self.assertTrue(all(self.entitlements.mapped("mpesa_payees_confirmed")))
        foreign = self.entitlements.filtered(lambda e: e.partner_id == self.foreign)
        answer = foreign.approve_entitlement() or {}
        self.assertNotEqual(answer.get("res_model"), "g2p.mpesa.preflight", "asked once per approval")
        self.assertEqual(foreign.state, "approved")


@tagged("post_install", "-at_install")
class TestApprovalPreflightOfANationalCycle(TestApprovalPreflight):
    """Over PREFLIGHT_JOB_SIZE entitlements (2 here, standing in for 20,000) the check is a queue job:
    the dialog opens at once with its progress, and approves only once everything was checked."""

    def setUp(self):
        super().setUp()
        self.backgrounds = []
        for name, value in (("PREFLIGHT_JOB_SIZE", 2), ("PREFLIGHT_CHUNK", 2)):
            patcher = patch.object(MPESA, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)

    def _wizard(self, action):
        """The dialog, after its background check ran (as the job runner would run it). Every test
        of the class above runs through it: the same answers, checked in the background."""
        wizard = super()._wizard(action)
        if wizard.state == "done":
            return wizard  # fewer entitlements than a national cycle: checked at once, as before
        self.assertEqual((wizard.progress_done, wizard.progress_total), (0, 3))
        self.assertFalse(wizard.line_ids)
        self.assertFalse(wizard.entitlement_ids, "a national cycle's entitlements are named by scope")
        if wizard.then:
            with self.assertRaises(UserError):
                wizard.action_proceed()  # not before every payee was checked
        jobs = self.env["queue.job"].search([("method_name", "=", "_mpesa_check_job")])
        jobs = jobs.filtered(lambda job: job.record_ids == [wizard.id])
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs.channel, "root.mpesa")
        Job.load(self.env, jobs.uuid).perform()
        wizard.invalidate_recordset()
        self.assertEqual(wizard.state, "done")
        self.assertEqual(wizard.progress_done, 3)
        self.assertEqual(wizard.action_refresh()["res_id"], wizard.id)
        self.backgrounds.append(wizard)
        return wizard

    def test_a_national_cycle_is_checked_in_the_background(self):
        wizard = self._wizard(self.cycle.action_mpesa_check_payees())
        self.assertEqual(self.backgrounds, [wizard])
        self.assertEqual(wizard.scope, "open")
        self.assertEqual(len(wizard.line_ids), 2)
        wizard = self._wizard(self.cycle.approve())
        self.assertEqual(self.backgrounds[-1], wizard)
        self.assertEqual((wizard.scope, wizard.then), ("open", "approve"))  # none confirmed yet: all open
        wizard.action_proceed()
        self.assertEqual(self.cycle.state, "approved")
        self.assertTrue(all(self.entitlements.mapped("mpesa_payees_confirmed")))

    def test_nothing_to_report_approves_straight_away(self):
        """A national cycle is checked in the background even when nothing is wrong: its dialog then
        says so and approves."""
        self.foreign.phone_number_ids.unlink()
        self.foreign.phone_number_ids = [(0, 0, {"phone_no": "0712 000 001"})]
        self.entitlements.filtered(lambda e: e.partner_id == self.fraction).initial_amount = 100
        wizard = self._wizard(self.cycle.approve())
        self.assertFalse(wizard.line_ids)
        self.assertIn("All 3", wizard.summary)
        wizard.action_proceed()
        self.assertEqual(self.cycle.state, "approved")
