from pathlib import Path

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import MpesaTransactionCase

SECRETS = (
    "consumer_secret",
    "initiator_password",
    "callback_secret",
    "consumer_key",
    "simulator_admin_token",
)


@tagged("post_install", "-at_install")
class TestAccess(MpesaTransactionCase):
    def test_cycle_approver_can_see_the_manager_but_not_its_secrets(self):
        approver = new_test_user(
            self.env, login="approver-mpesa", groups="base.group_user,g2p_programs.g2p_program_cycle_approver"
        )
        manager = self.manager.with_user(approver)
        self.assertEqual(manager.name, "M-Pesa")
        for field in SECRETS:
            with self.assertRaises(AccessError, msg=field):
                manager.read([field])

    def test_program_manager_cannot_read_secrets_either(self):
        user = new_test_user(
            self.env, login="pm-mpesa", groups="base.group_user,g2p_programs.g2p_program_manager"
        )
        with self.assertRaises(AccessError):
            self.manager.with_user(user).read(["initiator_password"])

    def test_secrets_are_not_in_the_callback_url(self):
        url = self.manager._mpesa_callback_url("result")
        manager = self.manager.sudo()
        for secret in (manager.consumer_secret, manager.initiator_password, manager.consumer_key):
            self.assertNotIn(secret, url)

    def test_rotating_the_secret_changes_the_callback_url(self):
        before = self.manager._mpesa_callback_url("result")
        self.manager.action_rotate_callback_secret()
        self.assertNotEqual(before, self.manager._mpesa_callback_url("result"))


@tagged("post_install", "-at_install")
class TestNeutralize(MpesaTransactionCase):
    def test_neutralize_blanks_credentials_and_disables_sending(self):
        sql = (Path(__file__).parents[1] / "data" / "neutralize.sql").read_text()
        secret_before = self.manager.sudo().callback_secret
        self.env.flush_all()
        self.env.cr.execute(sql)
        self.env.invalidate_all()
        manager = self.manager.sudo()
        self.assertFalse(manager.consumer_secret)
        self.assertFalse(manager.initiator_password)
        self.assertFalse(manager.sending_enabled)
        self.assertNotEqual(manager.callback_secret, secret_before)
        partner = self._registrant("Neutral", phone="0712345678")
        self._entitlement(partner)
        self.cycle.prepare_payment()
        with self.assertRaisesRegex(UserError, "disabled"):
            self.manager.send_payments(self.cycle.payment_batch_ids)
