"""The statement upload route (the *Import M-Pesa statement* dialog's): the file is a form's file
field, copied into the filestore; the answer is the notification that opens the statement. Only
finance validators and administrators may import, with a valid CSRF token, and a refused file
stores nothing."""

import base64
import glob
import hashlib
import json
import os
from datetime import timedelta
from unittest.mock import patch

from odoo import fields, http
from odoo.tests import new_test_user, tagged
from odoo.tests.common import HttpCase

from ..models import payment_manager_statement as statement_module
from .common import MPESA, MpesaProgramMixin
from .test_statement import statement_csv

FILENAME = "ORG_600000_Utility Account_Completed_upload.csv"


@tagged("post_install", "-at_install")
class TestStatementUpload(MpesaProgramMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_program()
        cls.manager.statement_settle_minutes = 0
        cls.people = [cls._registrant(f"Upload{i}", phone=f"07110002{i:02d}") for i in range(1, 3)]
        for person in cls.people:
            cls._entitlement(person)
        cls.cycle.prepare_payment()
        cls.start = fields.Datetime.now() - timedelta(minutes=30)
        cls.finance = new_test_user(
            cls.env,
            login="finance-upload",
            password="finance-upload",
            groups="base.group_user,g2p_programs.g2p_finance_validator",
        )
        cls.approver = new_test_user(
            cls.env,
            login="approver-upload",
            password="approver-upload",
            groups="base.group_user,g2p_programs.g2p_program_cycle_approver",
        )

    def _tx(self, person, index):
        payment = self.payment_of(person)
        return self.env["g2p.mpesa.transaction"].create(
            {
                "originator_conversation_id": f"upload-{payment.id}",
                "payment_id": payment.id,
                "manager_id": self.manager.id,
                "msisdn": f"2547110002{index:02d}",
                "amount": self.AMOUNT,
                "state": MPESA.TX_NEEDS_REVIEW,
                "last_submit_at": fields.Datetime.now() - timedelta(seconds=10),
            }
        )

    def statement(self, rows=(), **kw):
        end = fields.Datetime.now() + timedelta(minutes=10)
        opening = kw.pop("opening", 1_000_000)
        return base64.b64decode(statement_csv(list(rows), self.start, end, opening, **kw))

    def upload(self, data, filename=FILENAME, csrf=None, manager=None):
        """POST the file as the dialog does (a form's file field, multipart): (status, JSON answer
        or None)."""
        token = http.Request.csrf_token(self) if csrf is None else csrf
        manager_id = (manager or self.manager).id
        response = self.opener.post(
            f"{self.base_url()}/g2p_payment_mpesa/statement/{manager_id}",
            data={"csrf_token": token},
            files={"ufile": (filename, data, "text/csv")},
            timeout=60,
        )
        self.env.invalidate_all()
        try:
            answer = json.loads(response.content)
        except ValueError:
            answer = None
        return response.status_code, answer

    def statements(self):
        return self.env["g2p.mpesa.statement"].search([("manager_id", "=", self.manager.id)])

    def leftovers(self):
        return glob.glob(os.path.join(self.env["ir.attachment"]._filestore(), ".mpesa-statement-*"))

    def test_a_statement_uploaded_answers_the_notification_that_opens_it(self):
        tx = self._tx(self.people[0], 1)
        self.authenticate("finance-upload", "finance-upload")
        rows = [("UL1UPLOAD1", fields.Datetime.now(), "Business Payment to 254711000201 - U", 0, 500, "", "")]
        status, answer = self.upload(self.statement(rows))
        self.assertEqual(status, 200, answer)
        action = answer["action"]
        self.assertEqual((action["type"], action["tag"]), ("ir.actions.client", "display_notification"))
        self.assertIn("1 requests resolved as paid", action["params"]["message"])
        statement = self.statements()
        self.assertEqual(len(statement), 1)
        self.assertEqual(statement.name, FILENAME)
        self.assertEqual(answer["summary"]["statement_id"], statement.id)
        self.assertEqual(action["params"]["next"]["res_model"], "g2p.mpesa.statement")
        self.assertEqual(action["params"]["next"]["res_id"], statement.id)
        self.assertEqual((tx.state, tx.receipt), (MPESA.TX_PAID, "UL1UPLOAD1"))
        self.assertEqual(statement.line_ids.mapped("match"), ["resolved"])
        self.assertFalse(self.leftovers())

    def test_a_request_no_line_shows_is_concluded_not_paid(self):
        self._tx(self.people[1], 2)
        self.authenticate("finance-upload", "finance-upload")
        status, answer = self.upload(self.statement())
        self.assertEqual(status, 200, answer)
        self.assertIn("1 as not paid", answer["action"]["params"]["message"])

    def test_the_same_file_twice_says_already_imported_and_adds_nothing(self):
        self.authenticate("finance-upload", "finance-upload")
        data = self.statement()
        first_status, first = self.upload(data)
        self.assertEqual(first_status, 200, first)
        lines = self.env["g2p.mpesa.statement.line"].search_count([])
        status, again = self.upload(data, filename="renamed.csv")
        self.assertEqual(status, 200, again)
        self.assertTrue(again["summary"]["already_imported"])
        self.assertEqual(again["summary"]["statement_id"], first["summary"]["statement_id"])
        self.assertIn("nothing changed", again["action"]["params"]["message"])
        self.assertEqual(len(self.statements()), 1)
        self.assertEqual(self.env["g2p.mpesa.statement.line"].search_count([]), lines)
        self.assertFalse(self.leftovers())

    def test_a_large_file_is_moved_into_the_filestore_and_queued(self):
        self.authenticate("finance-upload", "finance-upload")
        data = self.statement()
        with patch.object(statement_module, "STATEMENT_JOB_BYTES", 100):
            status, answer = self.upload(data, filename="national.csv")
        self.assertEqual(status, 200, answer)
        self.assertTrue(answer["summary"]["queued"])
        self.assertIn("in the background", answer["action"]["params"]["message"])
        statement = self.statements()
        self.assertEqual(statement.state, "queued")
        attachment = statement.attachment_id
        sha1 = hashlib.sha1(data).hexdigest()
        self.assertEqual(attachment.store_fname, f"{sha1[:2]}/{sha1}")
        with open(attachment._full_path(attachment.store_fname), "rb") as stored:
            self.assertEqual(stored.read(), data)
        self.assertEqual(attachment.file_size, len(data))
        self.assertEqual(statement.sha256, hashlib.sha256(data).hexdigest())
        self.assertFalse(self.leftovers(), "the temporary copy was moved, not left beside the filestore")

    def test_a_user_who_is_no_finance_validator_is_refused_and_nothing_is_stored(self):
        self.authenticate("approver-upload", "approver-upload")
        status, answer = self.upload(self.statement())
        self.assertEqual(status, 403, answer)
        self.assertIn("finance validators", answer["error"])
        self.assertFalse(self.statements())
        self.assertFalse(self.leftovers())

    def test_no_such_manager_is_not_found(self):
        self.authenticate("admin", "admin")
        status, answer = self.upload(self.statement(), manager=self.manager.browse(2**31 - 2))
        self.assertEqual(status, 404, answer)
        self.assertIn("error", answer)

    def test_a_wrong_csrf_token_is_refused_and_nothing_is_stored(self):
        self.authenticate("admin", "admin")
        status, _answer = self.upload(self.statement(), csrf="0" * 40 + "o9999999999")
        self.assertEqual(status, 400)
        status, _answer = self.upload(self.statement(), csrf="")
        self.assertEqual(status, 400)
        self.assertFalse(self.statements())
        self.assertFalse(self.leftovers())

    def test_a_file_that_is_no_statement_is_refused_with_the_reason(self):
        self.authenticate("finance-upload", "finance-upload")
        for label, data in (("not a statement", b"hello,world\n1,2\n"), ("empty", b"")):
            with self.subTest(label):
                status, answer = self.upload(data, filename="x.csv")
                self.assertEqual(status, 400, answer)
                self.assertTrue(answer["error"])
        status, answer = self.upload(self.statement(shortcode="999999"), filename="other.csv")
        self.assertEqual(status, 400, answer)
        self.assertIn("999999", answer["error"])
        self.assertFalse(self.statements())
        self.assertFalse(self.leftovers())
        self.assertFalse(self.env["ir.attachment"].search([("res_model", "=", "g2p.mpesa.statement")]))

    def test_the_header_button_opens_the_upload_dialog(self):
        action = self.manager.action_mpesa_import_statement()
        self.assertEqual(
            (action["type"], action["tag"], action["target"]),
            ("ir.actions.client", "g2p_payment_mpesa.statement_upload", "new"),
        )
        self.assertEqual(action["params"], {"manager_id": self.manager.id})
