from odoo.tests import tagged

from .common import MpesaTransactionCase


@tagged("post_install", "-at_install")
class TestInstall(MpesaTransactionCase):
    def test_mpesa_is_offered_as_a_payment_manager(self):
        choices = dict(self.env["g2p.program.payment.manager"]._selection_manager_ref_id())
        self.assertEqual(choices.get("g2p.program.payment.manager.mpesa"), "M-Pesa")

    def test_program_resolves_the_mpesa_manager(self):
        self.assertEqual(self.program.get_manager(self.program.MANAGER_PAYMENT), self.manager)

    def test_sending_channel_and_reconciliation_cron_exist(self):
        channel = self.env.ref("g2p_payment_mpesa.channel_mpesa")
        self.assertEqual(channel.complete_name, "root.mpesa")
        cron = self.env.ref("g2p_payment_mpesa.ir_cron_mpesa_reconcile")
        self.assertTrue(cron.active)

    def test_database_refuses_two_open_requests_for_one_payment(self):
        self.env.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'g2p_mpesa_transaction_one_open_per_payment'"
        )
        (indexdef,) = self.env.cr.fetchone()
        self.assertIn("WHERE", indexdef)

    def test_each_manager_gets_its_own_unguessable_callback_secret(self):
        other = self.manager.copy({"name": "Other"})
        self.assertNotEqual(other.callback_secret, self.manager.callback_secret)
        self.assertGreaterEqual(len(self.manager.callback_secret), 40)

    def test_the_addon_speaks_kiswahili(self):
        self.env["res.lang"]._activate_lang("sw")
        self.env["ir.module.module"]._load_module_terms(["g2p_payment_mpesa"], ["sw"], overwrite=True)
        field = self.env["ir.model.fields"]._get("g2p.program.payment.manager.mpesa", "receiver_check")
        self.assertEqual(field.with_context(lang="sw").field_description, "Ukaguzi wa jina la mpokeaji")
        wizard = self.env["g2p.mpesa.preflight"].with_context(lang="sw")
        self.assertEqual(wizard._fields["total_text"].get_description(wizard.env)["string"], "Yangelipwa")
