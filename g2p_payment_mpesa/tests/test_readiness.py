"""A new program says what OpenG2P still needs before M-Pesa can pay it, and where to set it;
a local phone number is read in the market's country."""

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
        self.program.journal_id.currency_id = self.env.ref("base.USD")
        text = "\n".join(self.manager._mpesa_readiness_problems())
        self.assertIn("pays in USD but M-Pesa Kenya pays KES", text)

    def test_a_local_number_is_read_in_the_market_country(self):
        self.env.company.country_id = self.env.ref("base.us")
        person = self._registrant("Local")
        form = Form(self.env["g2p.phone.number"].with_context(default_partner_id=person.id))
        self.assertEqual(form.country_id, self.env.ref("base.ke"), "the market's country by default")
        form.phone_no = "0733 000 002"
        self.assertTrue(form.phone_no, "not cleared")
        phone = form.save()
        self.assertEqual(phone.phone_sanitized, "+254733000002")
