from pathlib import Path
from unittest.mock import patch

import requests

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .. import log_redaction
from .common import MpesaLiveCase


def _no_http(*args, **kwargs):
    raise AssertionError(f"no HTTP call expected: {args[1:3]}")


@tagged("post_install", "-at_install")
class TestSimWallets(MpesaLiveCase):
    """Opening simulator wallets for registrants: the button, at ID issuance, never elsewhere."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager.write(
            {"simulator_admin_token": cls.sim.admin_token, "validation_id_type_id": cls.national_id.id}
        )

    def _enrol(self, *partners):
        for partner in partners:
            self.env["g2p.program_membership"].create(
                {"partner_id": partner.id, "program_id": self.program.id, "state": "enrolled"}
            )

    def wallet(self, msisdn):
        status, body = self.sim.admin("GET", f"/sim/admin/wallets/{msisdn}")
        if status == 404:
            return None
        self.assertEqual(status, 200, body)
        return body

    def test_button_opens_wallets_of_enrolled_registrants(self):
        amina = self._registrant("Amina", phone="0722 000 101", national_id="20000101")
        brian = self._registrant("Brian", phone="+254722000102", national_id="20000102")
        nophone = self._registrant("Nophone", national_id="20000103")
        self.sim.seed(
            wallets=[{"msisdn": "254722000104", "name": "Old Holder", "id_number": "1", "balance": 100}]
        )
        existing = self._registrant("Existing", phone="0722000104", national_id="20000104")
        outsider = self._registrant("Outsider", phone="0722000105", national_id="20000105")
        self._enrol(amina, brian, nophone, existing)

        action = self.manager.action_mpesa_open_sim_wallets()

        message = action["params"]["message"]
        self.assertIn("2 opened, 1 already there, 1 skipped", message)
        self.assertIn("Nophone: The registrant has no active phone number.", message)
        for msisdn, partner, id_number in (
            ("254722000101", amina, "20000101"),
            ("254722000102", brian, "20000102"),
        ):
            wallet = self.wallet(msisdn)
            self.assertIsNotNone(wallet, msisdn)
            self.assertEqual(wallet["first_name"], partner.given_name)
            self.assertEqual(wallet["last_name"], partner.family_name)
            self.assertEqual((wallet["id_type"], wallet["id_number"]), ("01", id_number))
            self.assertEqual(wallet["balance_cents"], 0)
        # An existing wallet keeps its holder, ID and money; a registrant not enrolled gets none.
        kept = self.wallet("254722000104")
        self.assertEqual((kept["first_name"], kept["id_number"], kept["balance_cents"]), ("Old", "1", 10000))
        self.assertIsNone(self.wallet("254722000105"), outsider.name)

        # Pressing again opens nothing new.
        again = self.manager.action_mpesa_open_sim_wallets()["params"]["message"]
        self.assertIn("0 opened, 3 already there, 1 skipped", again)

    def test_button_is_for_administrators(self):
        user = new_test_user(
            self.env, login="pm-wallets", groups="base.group_user,g2p_programs.g2p_program_manager"
        )
        with self.assertRaises(AccessError):
            self.manager.with_user(user).action_mpesa_open_sim_wallets()
        with self.assertRaises(AccessError):
            self.manager.with_user(user).read(["simulator_admin_token"])

    def test_non_simulator_manager_refuses_without_any_http(self):
        partner = self._registrant("Sandboxed", phone="0722000201")
        self._enrol(partner)
        self.manager.write({"environment": "sandbox", "open_sim_wallets_on_id": True})
        with patch.object(requests.Session, "request", _no_http):
            with self.assertRaisesRegex(UserError, "only be opened in the simulator environment"):
                self.manager.action_mpesa_open_sim_wallets()
            with self.assertRaisesRegex(UserError, "simulator environment"):
                self.manager._mpesa_open_sim_wallets(partner)
            # Issuing an ID to an enrolled registrant opens nothing either, and queues nothing.
            self.env["g2p.reg.id"].create(
                {"partner_id": partner.id, "id_type": self.national_id.id, "value": "30000201"}
            )
            self.env.cr.postcommit.run()
        self.assertIsNone(self.wallet("254722000201"))

    def test_issuing_the_id_opens_the_wallet_after_the_commit(self):
        self.manager.open_sim_wallets_on_id = True
        partner = self._registrant("Issued", phone="0722000301")
        stranger = self._registrant("Stranger", phone="0722000302")
        self._enrol(partner)
        self.env.cr.postcommit.run()  # whatever the fixtures queued

        self.env["g2p.reg.id"].create(
            [
                {"partner_id": partner.id, "id_type": self.national_id.id, "value": "20000301"},
                {"partner_id": stranger.id, "id_type": self.national_id.id, "value": "20000302"},
            ]
        )
        self.assertIsNone(self.wallet("254722000301"), "opened only once the ID issuance is committed")
        self.env.cr.postcommit.run()

        wallet = self.wallet("254722000301")
        self.assertEqual((wallet["first_name"], wallet["id_number"]), ("Issued", "20000301"))
        self.assertIsNone(self.wallet("254722000302"), "not enrolled in the program")

    def test_setting_off_or_other_id_type_opens_nothing(self):
        partner = self._registrant("Quiet", phone="0722000401")
        self._enrol(partner)
        other_type = self.env["g2p.id.type"].create({"name": "Library card"})
        self.env["g2p.reg.id"].create(
            {"partner_id": partner.id, "id_type": self.national_id.id, "value": "20000401"}
        )
        self.manager.open_sim_wallets_on_id = True
        self.env["g2p.reg.id"].create({"partner_id": partner.id, "id_type": other_type.id, "value": "X1"})
        self.env.cr.postcommit.run()
        self.assertIsNone(self.wallet("254722000401"))

    def test_simulator_down_never_fails_the_id_issuance(self):
        self.manager.write({"open_sim_wallets_on_id": True, "base_url": "http://127.0.0.1:9"})
        partner = self._registrant("Unlucky", phone="0722000501")
        self._enrol(partner)
        reg = self.env["g2p.reg.id"].create(
            {"partner_id": partner.id, "id_type": self.national_id.id, "value": "20000501"}
        )
        with self.assertLogs(
            "odoo.addons.g2p_payment_mpesa.models.payment_manager_wallets", "WARNING"
        ) as logs:
            self.env.cr.postcommit.run()
        self.assertTrue(reg.exists())
        self.assertIn("cannot be reached", "\n".join(logs.output))
        self.assertNotIn(self.sim.admin_token, "\n".join(logs.output))
        self.env.invalidate_all()
        notes = self.manager.message_ids.mapped("body")
        self.assertTrue(any("cannot be reached" in str(body) for body in notes), notes)
        # The button says so plainly.
        with self.assertRaisesRegex(UserError, "cannot be reached"):
            self.manager.action_mpesa_open_sim_wallets()

    def test_admin_token_is_redacted_and_neutralized(self):
        self.assertEqual(
            log_redaction.redact(f"token {self.sim.admin_token}"), f"token {log_redaction.REDACTED}"
        )
        sql = (Path(__file__).parents[1] / "data" / "neutralize.sql").read_text()
        self.env.flush_all()
        self.env.cr.execute(sql)
        self.env.invalidate_all()
        self.assertFalse(self.manager.sudo().simulator_admin_token)
        with self.assertRaisesRegex(UserError, "admin token"):
            self.manager.action_mpesa_open_sim_wallets()
