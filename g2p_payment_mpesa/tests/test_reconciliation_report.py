"""A cycle's M-Pesa reconciliation report: the figures, the same in the QWeb page, the PDF and the
spreadsheet, and who may see them.

The cycle is built without a simulator (requests made through the ORM, a statement written here
and imported, as in test_statement.TestStatementMatching): seven payments, one in each state the
report counts, two of them on the statement with their charges.
"""

import base64
import io
import os
import shutil
from datetime import timedelta

from lxml import etree
from lxml import html as lxml_html

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.pdf import PdfFileReader

from mpesa_wire.daraja.statement import _Xlsx

from ..models.g2p_cycle_reconciliation import REPORT_REF
from .common import MPESA, MpesaProgramMixin, MpesaTransactionCase
from .test_statement import HEADER, eat

STATEMENT_FILE = "ORG_600000_Utility Account_Completed_report.csv"
# (name, amount in KES, transaction state or None for no request, receipt)
PEOPLE = [
    ("Paid One", 1500, MPESA.TX_PAID, "UL1RECON01"),
    ("Paid Two", 500, MPESA.TX_PAID, "UL1RECON02"),
    ("Failed Three", 700, MPESA.TX_FAILED, None),
    ("Review Four", 250, MPESA.TX_NEEDS_REVIEW, None),
    ("Unknown Five", 1000, MPESA.TX_UNKNOWN, None),
    ("Reversed Six", 300, MPESA.TX_REVERSED, "UL1RECON06"),
    ("Queued Seven", 400, None, None),
]
EXPECTED_TOTALS = {
    "sent": (6, "KES 4,250.00"),
    "paid": (2, "KES 2,000.00"),
    "failed": (1, "KES 700.00"),
    "review": (2, "KES 1,250.00"),
    "reversed": (1, "KES 300.00"),
    "in_progress": (1, "KES 400.00"),
}


def statement_b64(rows, start, end, opening):
    """rows: (receipt, when (UTC), details, paid_in, withdrawn, reason, other party, linked), whole
    shillings; the balances add up."""
    balance = opening
    body = []
    for receipt, when, details, paid_in, withdrawn, reason, other, linked in rows:
        balance += paid_in - withdrawn
        cells = [
            receipt,
            eat(when),
            eat(when),
            details,
            "Completed",
            f"{paid_in:.2f}" if paid_in else "",
            f"-{withdrawn:.2f}" if withdrawn else "",
            f"{balance:.2f}",
            "true",
            reason,
            other,
            linked,
            "",
        ]
        body.append(",".join(cells))
    lines = [
        "Account Holder:,G2P Test Ministry",
        "Short Code:,600000",
        "Account:,Utility Account",
        f"Time Period:,From,{eat(start)},To,{eat(end)}",
        f"Operator:,finance,Date of Report:,{eat(end)}",
        f"Opening Balance:,{opening:.2f},Closing Balance:,{balance:.2f},Available Balance:,{balance:.2f},"
        "Total Paid In:,0.00,Total Withdrawn:,0.00",
        HEADER,
        *reversed(body),
    ]
    return base64.b64encode(("\n".join(lines) + "\n").encode()).decode()


class _ReconciliationFixture(MpesaProgramMixin):
    @classmethod
    def _build_cycle(cls):
        cls.people = []
        for index, (name, amount, _state, _receipt) in enumerate(PEOPLE, start=1):
            person = cls._registrant(name.replace(" ", ""), phone=f"07130000{index:02d}")
            cls._entitlement(person, amount=amount)
            cls.people.append(person)
        cls.cycle.prepare_payment()
        now = fields.Datetime.now()
        for index, (person, (_name, amount, state, receipt)) in enumerate(
            zip(cls.people, PEOPLE, strict=True), start=1
        ):
            payment = cls.env["g2p.payment"].search([("partner_id", "=", person.id)], limit=1)
            if state is None:
                payment.mpesa_state = MPESA.PAY_QUEUED
                continue
            cls.env["g2p.mpesa.transaction"].create(
                {
                    "originator_conversation_id": f"recon-{payment.id}",
                    "payment_id": payment.id,
                    "manager_id": cls.manager.id,
                    "msisdn": f"2547130000{index:02d}",
                    "amount": amount,
                    "state": state,
                    "receipt": receipt,
                    "last_submit_at": now - timedelta(minutes=10),
                    "completed_at": now - timedelta(minutes=9) if receipt else False,
                }
            )
            payment.mpesa_state = MPESA.TX_TO_PAYMENT_STATE[state]
        first, second = now - timedelta(minutes=8), now - timedelta(minutes=7)
        charge = "Business Payment Charge"
        api = "Business Payment to Customer via API"
        rows = [
            ("UL1RECON01", first, "Business Payment to 254713000001 - PAID ONE", 0, 1500, api,
             "254713000001 - PAID ONE", ""),
            ("UL1CHARG01", first + timedelta(seconds=1), "B2C Payment Charge", 0, 15, charge, "",
             "UL1RECON01"),
            # M-Pesa moved 600 where Odoo asked for 500: a discrepancy of this cycle.
            ("UL1RECON02", second, "Business Payment to 254713000002 - PAID TWO", 0, 600, api,
             "254713000002 - PAID TWO", ""),
            ("UL1CHARG02", second + timedelta(seconds=1), "B2C Payment Charge", 0, 10, charge, "",
             "UL1RECON02"),
            # Money with no request in Odoo: a discrepancy, but of no cycle.
            ("UL1STRAY99", second + timedelta(minutes=1), "Business Payment to 254799000000 - X", 0, 1234,
             api, "254799000000 - X", ""),
        ]  # fmt: skip
        cls.summary = cls.manager.mpesa_import_statement(
            statement_b64(rows, now - timedelta(minutes=30), now + timedelta(minutes=1), 1_000_000),
            STATEMENT_FILE,
        )

    @classmethod
    def _user(cls, login, groups):
        return new_test_user(cls.env, login=login, name=login.title(), groups=f"base.group_user,{groups}")


def _rows(page, key):
    """The cells' text of the report rows marked data-key=key."""
    return [
        [" ".join(cell.text_content().split()) for cell in row.xpath("./td")]
        for row in page.xpath(f"//*[@data-key='{key}']")
    ]


@tagged("post_install", "-at_install")
class TestReconciliationReport(_ReconciliationFixture, MpesaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._build_cycle()
        cls.finance = cls._user("finance-recon", "g2p_programs.g2p_finance_validator")

    def _html(self, user=None):
        report = self.env["ir.actions.report"].with_user(user) if user else self.env["ir.actions.report"]
        content, _kind = report._render_qweb_html(REPORT_REF, self.cycle.ids)
        return lxml_html.fromstring(content)

    def test_the_statement_was_imported_as_the_report_expects(self):
        self.assertEqual((self.summary["lines"], self.summary["discrepancies"]), (5, 2), self.summary)
        self.assertTrue(self.summary["complete"])

    def test_the_figures(self):
        figures = self.cycle._mpesa_reconciliation()
        totals = {row["key"]: row for row in figures["totals"]}
        self.assertEqual({key: (row["count"], row["amount"]) for key, row in totals.items()}, EXPECTED_TOTALS)
        self.assertEqual(totals["sent"]["cents"], 425_000)
        self.assertIsInstance(totals["sent"]["cents"], int)
        self.assertEqual(figures["requests"], 6)
        self.assertEqual((figures["fees"]["count"], figures["fees"]["cents"]), (2, 2_500))
        self.assertEqual(figures["fees"]["amount"], "KES 25.00")
        self.assertEqual(figures["float"]["source"], "statement")
        # Before the first payment line: its Balance (998,500) plus what it withdrew (1,500).
        self.assertEqual(figures["float"]["before"]["cents"], 100_000_000)
        self.assertEqual(figures["float"]["before"]["amount"], "KES 1,000,000.00")
        self.assertIn("UL1RECON01", figures["float"]["before"]["detail"])
        # After the last one: 1,000,000 - 1,500 - 15 - 600.
        self.assertEqual(figures["float"]["after"]["amount"], "KES 997,885.00")
        self.assertIn("UL1RECON02", figures["float"]["after"]["detail"])
        self.assertEqual(figures["float"]["note"], "")
        self.assertEqual(
            [(d["kind"], d["receipt"], d["amount"], d["statement"]) for d in figures["discrepancies"]],
            [("amount", "UL1RECON02", "KES 600.00", STATEMENT_FILE)],
            "the stray line belongs to no cycle",
        )
        self.assertIn("KES 500.00", figures["discrepancies"][0]["description"])
        self.assertEqual([s["name"] for s in figures["statements"]], [STATEMENT_FILE])
        self.assertEqual(figures["statements"][0]["opening"], "KES 1,000,000.00")
        self.assertEqual(figures["generated_by"], self.env.user.name)

    def test_the_report_page_shows_the_figures(self):
        page = self._html(self.finance)
        for key, (count, amount) in EXPECTED_TOTALS.items():
            self.assertEqual(_rows(page, key)[0][1:], [str(count), amount], key)
        self.assertEqual(_rows(page, "fees"), [["M-Pesa charges", "2", "KES 25.00"]])
        self.assertEqual(_rows(page, "float_before")[0][1], "KES 1,000,000.00")
        self.assertEqual(_rows(page, "float_after")[0][1], "KES 997,885.00")
        self.assertIn("statement", page.xpath("//*[@data-key='float_source']")[0].text_content().lower())
        (discrepancy,) = _rows(page, "discrepancy")
        self.assertEqual(discrepancy[:3], ["Amount differs", "UL1RECON02", "KES 600.00"])
        self.assertEqual(discrepancy[4], STATEMENT_FILE)
        self.assertEqual(_rows(page, "statement")[0][0], STATEMENT_FILE)
        generated_by = page.xpath("//*[@data-key='generated_by']")[0].text_content().strip()
        self.assertEqual(generated_by, self.finance.name)
        self.assertTrue(page.xpath("//*[@data-key='generated_at']")[0].text_content().strip())

    def test_the_spreadsheet_has_the_same_figures(self):
        action = self.cycle.with_user(self.finance).action_mpesa_reconciliation_xlsx()
        attachment_id = int(action["url"].split("/web/content/")[1].split("?")[0])
        attachment = self.env["ir.attachment"].with_user(self.finance).browse(attachment_id)
        self.assertTrue(attachment.name.endswith(".xlsx"))
        rows = _Xlsx(attachment.raw).rows()
        by_label = {row[0]: row for row in rows if row and row[0]}
        figures = self.cycle.with_user(self.finance)._mpesa_reconciliation()
        for total in figures["totals"]:
            self.assertEqual(by_label[total["label"]][1:4], [total["count"], total["amount"], total["cents"]])
            if total["key"] in EXPECTED_TOTALS:
                self.assertEqual(tuple(by_label[total["label"]][1:3]), EXPECTED_TOTALS[total["key"]])
        self.assertEqual(by_label["M-Pesa charges"][1:4], [2, "KES 25.00", 2500])
        self.assertEqual(by_label["Before the cycle"][2:4], ["KES 1,000,000.00", 100_000_000])
        self.assertEqual(by_label["After the cycle"][2:4], ["KES 997,885.00", 99_788_500])
        self.assertEqual(by_label["Amount differs"][1:4], ["UL1RECON02", "KES 600.00", 60_000])
        self.assertEqual(by_label[STATEMENT_FILE][2], "KES 1,000,000.00")
        self.assertEqual(by_label["Generated by"][1], self.finance.name)
        # Only its creator may read the file; exporting again replaces the earlier copy.
        other = self._user("finance-other", "g2p_programs.g2p_finance_validator")
        with self.assertRaises(AccessError):
            self.env["ir.attachment"].with_user(other).browse(attachment_id).read(["raw"])
        again = self.cycle.with_user(self.finance).action_mpesa_reconciliation_xlsx()
        self.assertNotEqual(again["url"], action["url"])
        self.assertFalse(self.env["ir.attachment"].browse(attachment_id).exists())

    def test_without_a_statement_the_float_comes_from_the_float_reports(self):
        cycle = self.env["g2p.cycle"].create(
            {
                "name": "Cycle 2",
                "program_id": self.program.id,
                "start_date": fields.Date.today(),
                "end_date": fields.Date.add(fields.Date.today(), months=1),
            }
        )
        person = self._registrant("FloatOnly", phone="0713000099")
        self.env["g2p.entitlement"].create(
            {
                "partner_id": person.id,
                "cycle_id": cycle.id,
                "initial_amount": 800,
                "state": "approved",
                "is_cash_entitlement": True,
            }
        )
        cycle.prepare_payment()
        payment = self.env["g2p.payment"].search([("cycle_id", "=", cycle.id)])
        self.env["g2p.mpesa.transaction"].create(
            {
                "originator_conversation_id": "recon-float-1",
                "payment_id": payment.id,
                "manager_id": self.manager.id,
                "msisdn": "254713000099",
                "amount": 800,
                "state": MPESA.TX_PAID,
                "receipt": "UL1FLOAT01",
            }
        )
        payment.mpesa_state = MPESA.PAY_PAID
        self.env.flush_all()
        self.env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        sent = self.env.cr.fetchone()[0]
        Report = self.env["g2p.mpesa.float.report"].sudo()
        for hours, utility in ((-2, "99999.00"), (-1, "50000.00"), (1, "49200.00"), (2, "10.00")):
            Report.create(
                {
                    "manager_id": self.manager.id,
                    "reported_at": sent + timedelta(hours=hours),
                    "source": "result",
                    "utility_balance": utility,
                }
            )
        figures = cycle.with_user(self.finance)._mpesa_reconciliation()
        float_ = figures["float"]
        self.assertEqual(float_["source"], "float_report")
        # The newest report before the first request, the first one after the last result.
        self.assertEqual(
            (float_["before"]["cents"], float_["before"]["amount"]), (5_000_000, "KES 50,000.00")
        )
        self.assertEqual((float_["after"]["cents"], float_["after"]["amount"]), (4_920_000, "KES 49,200.00"))
        self.assertEqual(figures["discrepancies"], [])
        self.assertEqual(figures["fees"]["count"], 0)
        paid = next(row for row in figures["totals"] if row["key"] == "paid")
        self.assertEqual((paid["count"], paid["amount"]), (1, "KES 800.00"))
        page = lxml_html.fromstring(
            self.env["ir.actions.report"].with_user(self.finance)._render_qweb_html(REPORT_REF, cycle.ids)[0]
        )
        self.assertEqual(_rows(page, "float_before")[0][1], "KES 50,000.00")
        self.assertIn("float report", page.xpath("//*[@data-key='float_source']")[0].text_content())

    def test_finance_validators_program_managers_and_admins_may_see_it(self):
        program_manager = self._user("pm-recon", "g2p_programs.g2p_program_manager")
        admin = self._user("admin-recon", "g2p_registry_base.group_g2p_admin")
        for user in (self.finance, program_manager, admin):
            with self.subTest(user.login):
                page = self._html(user)
                self.assertEqual(_rows(page, "paid")[0][1:], ["2", "KES 2,000.00"])
                action = self.cycle.with_user(user).action_mpesa_reconciliation_pdf()
                self.assertEqual(action["report_name"], "g2p_payment_mpesa.report_mpesa_reconciliation")

    def test_others_may_not(self):
        validator = self._user("validator-recon", "g2p_programs.g2p_program_validator")
        approver = self._user("approver-recon", "g2p_programs.g2p_program_cycle_approver")
        employee = new_test_user(self.env, login="employee-recon", groups="base.group_user")
        for user in (validator, approver, employee):
            with self.subTest(user.login):
                with self.assertRaises(AccessError):
                    self._html(user)
                with self.assertRaises(AccessError):
                    self.cycle.with_user(user).action_mpesa_reconciliation_xlsx()
                with self.assertRaises(AccessError):
                    self.cycle.with_user(user)._mpesa_reconciliation()

    def test_finance_validators_can_open_the_cycle_form_and_see_the_buttons(self):
        validator = self._user("validator-buttons", "g2p_programs.g2p_program_validator")
        report = self.env.ref(REPORT_REF)
        for user, shown in ((self.finance, True), (validator, False)):
            with self.subTest(user.login):
                cycle = self.cycle.with_user(user)
                views = cycle.get_views([(False, "form")])
                buttons = etree.fromstring(views["views"]["form"]["arch"]).xpath("//button/@name")
                bindings = self.env["ir.actions.actions"].with_user(user).get_bindings("g2p.cycle")
                printable = [action["id"] for action in bindings.get("report", [])]
                for button in ("action_mpesa_reconciliation_pdf", "action_mpesa_reconciliation_xlsx"):
                    self.assertEqual(button in buttons, shown, button)
                self.assertEqual(report.id in printable, shown, "the Print menu")
                # What the web client reads to show the form.
                refused = []
                for name in views["models"]["g2p.cycle"]:
                    try:
                        cycle.invalidate_recordset()
                        cycle.read([name])
                    except AccessError as exc:
                        refused.append(f"{name}: {exc}")
                self.assertEqual(refused, [])
                self.assertEqual((cycle.mpesa_enabled, cycle.mpesa_request_count), (True, 6))


@tagged("post_install", "-at_install")
class TestReconciliationPdf(_ReconciliationFixture, HttpCase):
    """The PDF itself, through wkhtmltopdf (with Odoo's test HTTP server serving its styles)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_program()
        cls._build_cycle()

    def test_the_pdf_is_rendered_for_a_finance_validator_only(self):
        if not shutil.which("wkhtmltopdf"):
            self.skipTest("*** wkhtmltopdf is not installed: the reconciliation PDF was NOT rendered ***")
        self.env["ir.config_parameter"].sudo().set_param("report.url", self.base_url())
        finance = self._user("finance-pdf", "g2p_programs.g2p_finance_validator")
        report = self.env["ir.actions.report"].with_user(finance).with_context(force_report_rendering=True)
        pdf, kind = report._render_qweb_pdf(REPORT_REF, self.cycle.ids)
        out = os.environ.get("MPESA_RECONCILIATION_PDF")
        if out:  # for a person to look at: MPESA_RECONCILIATION_PDF=/tmp/report14.pdf
            with open(out, "wb") as handle:
                handle.write(pdf)
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        # wkhtmltopdf draws the report's web fonts as shapes, so the PDF has no text to compare: the
        # figures are those of the page it was made from (TestReconciliationReport checks them).
        self.assertGreaterEqual(len(PdfFileReader(io.BytesIO(pdf)).pages), 1)
        with self.assertRaises(AccessError):
            self.env["ir.actions.report"].with_user(
                self._user("employee-pdf", "base.group_user")
            ).with_context(force_report_rendering=True)._render_qweb_pdf(REPORT_REF, self.cycle.ids)
