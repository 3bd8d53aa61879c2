"""The manager form tells the admin what it did, shows money as money, and keeps the secret."""

import json

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user, tagged

from .common import MpesaTransactionCase


@tagged("post_install", "-at_install")
class TestManagerForm(MpesaTransactionCase):
    def test_the_float_shows_with_its_currency_and_separators(self):
        self.manager._mpesa_store_float("9995500.00", "12.5", source="balance")
        self.assertEqual(self.manager.float_utility_display, "KES 9,995,500.00")
        self.assertEqual(self.manager.float_working_display, "KES 12.50")

    def test_the_callback_url_is_shown_masked_and_copied_in_full_by_administrators(self):
        secret = self.manager.sudo().callback_secret
        masked = self.manager.callback_url_masked
        self.assertIn(f"/g2p_payment_mpesa/{self.manager.id}/***/", masked)
        self.assertNotIn(secret, masked)
        action = self.manager.action_show_callback_url()
        url = self.env[action["res_model"]].browse(action["res_id"]).url
        self.assertEqual(url, f"{self.manager._mpesa_callback_url('result').rsplit('/', 1)[0]}")
        self.assertIn(secret, url)

    def test_the_callback_urls_close_leads_back_to_the_managers_dialog(self):
        # Opened from the manager's dialog (Pay with M-Pesa): Odoo replaced that dialog with it.
        dialog = self.program.action_mpesa_pay_with_mpesa()
        manager = self.manager.with_context(**dialog["context"])
        action = manager.action_show_callback_url()
        wizard = self.env[action["res_model"]].with_context(**action["context"]).browse(action["res_id"])
        back = wizard.action_close()
        self.assertEqual(
            (back["res_model"], back["res_id"], back["target"]), (manager._name, manager.id, "new")
        )
        self.assertEqual(back["name"], dialog["name"])
        # Opened from the managers' own form: Close just closes.
        action = self.manager.action_show_callback_url()
        wizard = self.env[action["res_model"]].with_context(**action["context"]).browse(action["res_id"])
        self.assertEqual(wizard.action_close()["type"], "ir.actions.act_window_close")

    def test_only_administrators_see_the_full_url(self):
        approver = new_test_user(
            self.env, login="approver-url", groups="base.group_user,g2p_programs.g2p_program_manager"
        )
        with self.assertRaises(UserError):
            self.manager.with_user(approver).action_show_callback_url()

    def test_buttons_confirm_what_they_did(self):
        for action in (self.manager.action_rotate_callback_secret(), self.manager.action_resume_sending()):
            self.assertEqual(action["tag"], "display_notification")
            self.assertTrue(action["params"]["message"])
            self.assertFalse(action["params"]["sticky"])
            # Nothing after the notification: a soft_reload restored the page behind the dialog
            # and so closed it (the form reloads itself after a button: mpesa_progress.js).
            self.assertNotIn("next", action["params"])

    def test_the_float_is_m_pesas_latest_whatever_order_results_come_in(self):
        # Two results answered in the same second, the later one recorded first; then the money
        # comes back (a reversal).
        second = fields.Datetime.subtract(fields.Datetime.now(), minutes=1)
        for balance in ("9000.00", "9500.00"):
            self.env["g2p.mpesa.float.report"].create(
                {
                    "manager_id": self.manager.id,
                    "reported_at": second,
                    "source": "result",
                    "utility_balance": balance,
                }
            )
        self.manager.invalidate_recordset()
        self.assertEqual(self.manager.float_utility_display, "KES 9,000.00")
        self.manager._mpesa_store_float("10000.00", None, source="reversal")
        self.assertEqual(self.manager.float_utility_display, "KES 10,000.00")

    def test_an_open_form_hears_of_a_new_float(self):
        self.env["bus.bus"].search([]).unlink()
        self.manager._mpesa_store_float("9995500.00", None, source="result")
        sent = self.env["bus.bus"].search([]).mapped("message")
        payload = {"model": self.manager._name, "id": self.manager.id}
        self.assertIn(
            {"type": "g2p_payment_mpesa.progress", "payload": payload}, [json.loads(m) for m in sent]
        )

    def test_a_new_manager_is_not_saved_by_its_buttons(self):
        # Every header button is hidden until the manager exists (an object button saves first).
        arch = self.env["g2p.program.payment.manager.mpesa"].get_view(
            self.env.ref("g2p_payment_mpesa.view_payment_manager_mpesa_form").id, "form"
        )["arch"]
        header = arch.split("<header>", 1)[1].split("</header>", 1)[0]
        for chunk in header.split("<button")[1:]:
            self.assertIn("not id", chunk, chunk[:120])
        form = Form(
            self.env["g2p.program.payment.manager.mpesa"].with_context(default_program_id=self.program.id)
        )
        self.assertFalse(form.id)
