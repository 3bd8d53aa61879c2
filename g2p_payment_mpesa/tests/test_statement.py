"""Statement import: M-Pesa's own record resolves what no callback or status query did, never pays
twice, and lists every difference; the same file twice changes nothing."""

import base64
import urllib.request
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from . import payloads
from .common import MPESA, MpesaLiveCase, MpesaTransactionCase

HEADER = (
    "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,"
    "Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No."
)
EAT = timedelta(hours=3)


def eat(moment):
    return (moment + EAT).strftime("%d-%m-%Y %H:%M:%S")


def statement_csv(rows, start, end, opening, shortcode="600000", closing=None, reported=None):
    """A portal-style statement: rows are (receipt, when (UTC), details, paid_in, withdrawn, other,
    linked) with amounts in whole shillings; the balances add up unless `closing` says otherwise."""
    balance = opening
    body = []
    for receipt, when, details, paid_in, withdrawn, other, linked in rows:
        balance += paid_in - withdrawn
        body.append(
            ",".join(
                [
                    receipt,
                    eat(when),
                    eat(when),
                    details,
                    "Completed",
                    f"{paid_in:.2f}" if paid_in else "",
                    f"-{withdrawn:.2f}" if withdrawn else "",
                    f"{balance:.2f}",
                    "true",
                    "Business Payment to Customer via API" if withdrawn else "Reversal",
                    other,
                    linked,
                    "",
                ]
            )
        )
    closing = balance if closing is None else closing
    lines = [
        "Account Holder:,G2P Test Ministry",
        f"Short Code:,{shortcode}",
        "Account:,Utility Account",
        f"Time Period:,From,{eat(start)},To,{eat(end)}",
        f"Operator:,finance,Date of Report:,{eat(reported or end)}",
        f"Opening Balance:,{opening:.2f},Closing Balance:,{closing:.2f},Available Balance:,{closing:.2f},"
        "Total Paid In:,0.00,Total Withdrawn:,0.00",
        HEADER,
        *reversed(body),
    ]
    return base64.b64encode(("\n".join(lines) + "\n").encode()).decode()


@tagged("post_install", "-at_install")
class TestStatementMatching(MpesaTransactionCase):
    """Statements written here, requests made through the ORM: each matching rule on its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager.statement_settle_minutes = 0
        cls.people = [cls._registrant(f"Person{i}", phone=f"07110000{i:02d}") for i in range(1, 6)]
        for person in cls.people:
            cls._entitlement(person)
        cls.cycle.prepare_payment()
        cls.start = fields.Datetime.now() - timedelta(minutes=30)

    def _tx(self, person, state=MPESA.TX_NEEDS_REVIEW, receipt=None, amount=None):
        payment = self.payment_of(person)
        msisdn = "2547110000" + person.name[-1].zfill(2)
        tx = self.env["g2p.mpesa.transaction"].create(
            {
                "originator_conversation_id": f"test-{payment.id}-{fields.Datetime.now().timestamp()}",
                "payment_id": payment.id,
                "manager_id": self.manager.id,
                "msisdn": msisdn,
                "amount": amount or self.AMOUNT,
                "state": state,
                "receipt": receipt,
                "last_submit_at": fields.Datetime.now() - timedelta(minutes=11 if receipt else 0, seconds=10),
                "completed_at": fields.Datetime.now() - timedelta(minutes=10) if receipt else False,
            }
        )
        return tx

    def _import(self, rows, **kw):
        end = fields.Datetime.now() + timedelta(minutes=10)
        data = statement_csv(rows, self.start, end, kw.pop("opening", 1_000_000), **kw)
        return self.manager.mpesa_import_statement(data, "ORG_600000_Utility Account_Completed_test.csv")

    def test_a_line_resolves_a_request_mpesa_never_answered_with_its_receipt(self):
        tx = self._tx(self.people[0])
        when = fields.Datetime.now()
        summary = self._import(
            [
                (
                    "UL1AAAAAA1",
                    when,
                    "Business Payment to 254711000001 - PERSON1 TEST",
                    0,
                    500,
                    "254711000001 - PERSON1 TEST",
                    "",
                )
            ]
        )
        self.assertEqual((summary["resolved_paid"], summary["discrepancies"]), (1, 0), summary)
        self.assertEqual((tx.state, tx.receipt), (MPESA.TX_PAID, "UL1AAAAAA1"))
        self.assertEqual((tx.payment_id.status, tx.payment_id.mpesa_receipt), ("paid", "UL1AAAAAA1"))

    def test_a_masked_number_matches_with_the_registrants_name_only(self):
        tx = self._tx(self.people[1])
        when = fields.Datetime.now()
        stranger = ("UL1AAAAAA9", when, "Business Payment to 2547****0002 - OTHER NAME", 0, 500, "", "")
        summary = self._import([stranger], closing=1)  # incomplete: silence proves nothing
        self.assertEqual((summary["resolved_paid"], tx.state), (0, MPESA.TX_NEEDS_REVIEW))
        line = ("UL1AAAAAA2", when, "Business Payment to 2547****0002 - PERSON2 TEST", 0, 500, "", "")
        self._import([line])
        self.assertEqual((tx.state, tx.receipt), (MPESA.TX_PAID, "UL1AAAAAA2"))

    def test_a_complete_statement_without_the_request_sends_it_back_to_openg2p_retry(self):
        tx = self._tx(self.people[2])
        summary = self._import([])
        self.assertEqual(summary["resolved_unpaid"], 1, summary)
        self.assertEqual((tx.state, tx.result_code), (MPESA.TX_FAILED, "G2P_NOT_ON_STATEMENT"))
        self.assertEqual(tx.payment_id.status, "failed")

    def test_the_statements_period_is_said_in_the_readers_time_zone_named(self):
        tx = self._tx(self.people[2])
        self.env.user.tz = "Africa/Nairobi"  # the reader: EAT
        self._import([])
        self.assertIn("EAT", tx.result_desc)
        self.assertNotIn("UTC", tx.result_desc)

    def test_an_incomplete_statement_concludes_nothing_from_silence(self):
        tx = self._tx(self.people[2])
        summary = self._import([], closing=999)
        self.assertFalse(summary["complete"])
        self.assertEqual(summary["resolved_unpaid"], 0)
        self.assertEqual(tx.state, MPESA.TX_NEEDS_REVIEW)

    def test_a_request_sent_inside_the_settle_window_is_not_concluded_unpaid(self):
        self.manager.statement_settle_minutes = 60
        tx = self._tx(self.people[2])
        self._import([])
        self.assertEqual(tx.state, MPESA.TX_NEEDS_REVIEW)

    def test_importing_the_same_file_twice_changes_nothing(self):
        tx = self._tx(self.people[0])
        when = fields.Datetime.now()
        rows = [("UL1AAAAAA3", when, "Business Payment to 254711000001 - P", 0, 500, "254711000001 - P", "")]
        end = fields.Datetime.now() + timedelta(minutes=1)
        data = statement_csv(rows, self.start, end, 1_000_000)
        first = self.manager.mpesa_import_statement(data, "a.csv")
        second = self.manager.mpesa_import_statement(data, "a.csv")
        self.assertEqual(first["resolved_paid"], 1)
        self.assertTrue(second["already_imported"])
        self.assertEqual(second["statement_id"], first["statement_id"])
        self.assertEqual(
            self.env["g2p.mpesa.statement"].search_count([("manager_id", "=", self.manager.id)]), 1
        )
        # An overlapping export (another file) holding the same line changes nothing either.
        third = self._import(rows)
        self.assertEqual((third["lines"], third["known"], third["resolved_paid"]), (0, 1, 0))
        self.assertEqual(tx.state, MPESA.TX_PAID)

    def test_differences_are_flagged_and_nothing_is_paid_twice(self):
        paid = self._tx(self.people[3], state=MPESA.TX_PAID, receipt="UL1PAIDAA1")
        lost = self._tx(self.people[4], state=MPESA.TX_PAID, receipt="UL1PAIDAA2")
        when = fields.Datetime.now()
        summary = self._import(
            [
                # Odoo's paid request, but M-Pesa moved another amount to another number.
                ("UL1PAIDAA1", when, "Business Payment to 254722999999 - X", 0, 700, "254722999999 - X", ""),
                # Money that left with no request in Odoo.
                ("UL1STRAY01", when, "Business Payment to 254733000000 - Y", 0, 1234, "254733000000 - Y", ""),
            ]
        )
        kinds = sorted(
            self.env["g2p.mpesa.discrepancy"]
            .browse()
            .search([("statement_id", "=", summary["statement_id"])])
            .mapped("kind")
        )
        self.assertEqual(kinds, ["amount", "no_line", "no_request", "number"])
        self.assertEqual((paid.state, paid.receipt), (MPESA.TX_PAID, "UL1PAIDAA1"))
        self.assertEqual(lost.state, MPESA.TX_PAID, "a missing line is shown, not acted on")
        missing = self.env["g2p.mpesa.discrepancy"].search(
            [("statement_id", "=", summary["statement_id"]), ("kind", "=", "no_line")]
        )
        self.assertEqual(missing.transaction_id, lost)
        self.assertEqual(missing.cycle_id, self.cycle)

    def test_two_requests_that_could_be_one_line_are_left_for_a_person(self):
        one = self._tx(self.people[0])
        other_payment = self.payment_of(self.people[0]).copy({"amount_issued": self.AMOUNT})
        two = self._tx(self.people[0])
        two.payment_id = other_payment
        when = fields.Datetime.now()
        summary = self._import(
            [("UL1AMBIG01", when, "Business Payment to 254711000001 - P", 0, 500, "254711000001 - P", "")]
        )
        self.assertEqual(summary["resolved_paid"], 0)
        self.assertEqual((one.state, two.state), (MPESA.TX_NEEDS_REVIEW, MPESA.TX_NEEDS_REVIEW))
        found = self.env["g2p.mpesa.discrepancy"].search([("statement_id", "=", summary["statement_id"])])
        self.assertIn("ambiguous", found.mapped("kind"))

    def test_a_request_odoo_thought_failed_but_mpesa_paid_is_corrected(self):
        tx = self._tx(self.people[1], state=MPESA.TX_FAILED)
        tx.result_code = MPESA.NOT_ON_STATEMENT  # Odoo's own conclusion; M-Pesa's "failed" is final
        when = fields.Datetime.now()
        summary = self._import(
            [("UL1FAILPD1", when, "Business Payment to 254711000002 - P", 0, 500, "254711000002 - P", "")]
        )
        self.assertEqual(tx.state, MPESA.TX_PAID)
        self.assertEqual(tx.payment_id.status, "paid")
        found = self.env["g2p.mpesa.discrepancy"].search([("statement_id", "=", summary["statement_id"])])
        self.assertEqual(found.mapped("kind"), ["failed_but_paid"])

    def test_mpesas_own_failure_is_never_turned_into_a_payment(self):
        tx = self._tx(self.people[1], state=MPESA.TX_FAILED)
        tx.result_code = "2040"
        line = ("UL1FAILMP1", fields.Datetime.now(), "Business Payment to 254711000002 - P", 0, 500, "", "")
        summary = self._import([line])
        self.assertEqual((tx.state, summary["discrepancies"]), (MPESA.TX_FAILED, 1))

    def test_paid_by_mpesa_after_openg2p_paid_again_is_flagged_not_paid(self):
        tx = self._tx(self.people[1], state=MPESA.TX_FAILED)
        tx.result_code = MPESA.NOT_ON_STATEMENT
        tx.payment_id.status = "failed"
        again = tx.payment_id.copy({"name": "again", "status": False, "state": "issued"})
        line = ("UL1TWICE01", fields.Datetime.now(), "Business Payment to 254711000002 - P", 0, 500, "", "")
        summary = self._import([line])
        self.assertEqual(tx.state, MPESA.TX_FAILED)
        found = self.env["g2p.mpesa.discrepancy"].search([("statement_id", "=", summary["statement_id"])])
        self.assertEqual(found.mapped("kind"), ["failed_but_paid"])
        self.assertIn(again.name, found.description)

    def test_a_statement_says_nothing_after_it_was_made(self):
        tx = self._tx(self.people[2])
        end = fields.Datetime.now() + timedelta(hours=12)  # "To 23:59:59" ...
        made = fields.Datetime.now() - timedelta(minutes=20)  # ... on a file exported earlier
        data = statement_csv([], self.start, end, 0, reported=made)
        summary = self.manager.mpesa_import_statement(data, "early.csv")
        self.assertEqual((summary["resolved_unpaid"], tx.state), (0, MPESA.TX_NEEDS_REVIEW))

    def test_an_ambiguous_line_keeps_protecting_its_requests_in_later_imports(self):
        one = self._tx(self.people[0])
        other_payment = self.payment_of(self.people[0]).copy({"amount_issued": self.AMOUNT})
        two = self._tx(self.people[0])
        two.payment_id = other_payment
        line = ("UL1AMBIG02", fields.Datetime.now(), "Business Payment to 254711000001 - P", 0, 500, "", "")
        self._import([line])
        later = self._import([line], opening=2_000_000)  # an overlapping export: a new file
        self.assertEqual((later["known"], later["resolved_unpaid"]), (1, 0), later)
        self.assertEqual((one.state, two.state), (MPESA.TX_NEEDS_REVIEW, MPESA.TX_NEEDS_REVIEW))

    def test_a_late_success_after_a_statement_said_unpaid_is_still_proof(self):
        tx = self._tx(self.people[3], state=MPESA.TX_FAILED)
        tx.write({"result_code": MPESA.NOT_ON_STATEMENT})
        tx.payment_id.status = "failed"
        body = payloads.result_body(
            tx.originator_conversation_id, amount=500, msisdn=tx.msisdn, receipt="UL1LATE001"
        )
        self.assertEqual(self.manager._mpesa_handle_callback("result", body, None), "late success, paid")
        self.assertEqual((tx.state, tx.payment_id.status), (MPESA.TX_PAID, "paid"))

    def test_a_file_without_balances_is_not_taken_for_the_float(self):
        line = ("UL1BALAN01", fields.Datetime.now(), "Business Payment to 254799999998 - Y", 0, 300, "", "")
        with_balances = self._import([line])
        self.assertTrue(self.env["g2p.mpesa.statement"].browse(with_balances["statement_id"]).has_balances)
        header = "Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn"
        when = eat(fields.Datetime.now())
        text = f"{header}\nUL1NOBAL01,{when},Business Payment to 254799999999 - X,Completed,,-700.00\n"
        summary = self.manager.mpesa_import_statement(base64.b64encode(text.encode()).decode(), "nobal.csv")
        statement = self.env["g2p.mpesa.statement"].browse(summary["statement_id"])
        self.assertEqual((statement.has_balances, statement.complete, summary["lines"]), (False, False, 1))

    def test_only_finance_validators_and_admins_may_import(self):
        approver = new_test_user(
            self.env, login="approver-stmt", groups="base.group_user,g2p_programs.g2p_program_cycle_approver"
        )
        data = statement_csv([], self.start, fields.Datetime.now(), 0)
        with self.assertRaises(AccessError):
            self.manager.with_user(approver).mpesa_import_statement(data, "x.csv")

    def test_bad_files_are_refused_with_a_reason_and_change_nothing(self):
        tx = self._tx(self.people[2])
        cases = {
            "not base64": "%%%",
            "no header": base64.b64encode(b"hello,world\n1,2\n").decode(),
            "empty": "",
        }
        for label, data in cases.items():
            with self.subTest(label), self.assertRaises(UserError):
                self.manager.mpesa_import_statement(data, "x.csv")
        other = statement_csv([], self.start, fields.Datetime.now(), 0, shortcode="999999")
        with self.assertRaisesRegex(UserError, "999999"):
            self.manager.mpesa_import_statement(other, "other.csv")
        self.assertEqual(tx.state, MPESA.TX_NEEDS_REVIEW)
        self.assertFalse(self.env["g2p.mpesa.statement"].search([("manager_id", "=", self.manager.id)]))

    # Imports through the upload route (the dialog's): test_statement_upload.py.


@tagged("post_install", "-at_install")
class TestStatementFromSimulator(MpesaLiveCase):
    """Results lost at M-Pesa (no callback, no status answer): the simulator's statement export,
    imported, resolves them as paid with M-Pesa's receipts; the float adds up."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.seed(
            wallets=[
                {
                    "msisdn": cls.msisdn(f"7120000{i:02d}"),
                    "name": f"Lost Person{i}",
                    "id_number": f"2000000{i}",
                }
                for i in range(1, 5)
            ]
        )
        cls.people = [cls._registrant(f"Lost{i}", phone=f"07120000{i:02d}") for i in range(1, 5)]
        cls.manager.statement_settle_minutes = 0

    def export(self, start, fmt="csv"):
        end = fields.Datetime.now() + timedelta(minutes=1)
        query = f"from={(start + EAT).isoformat()}&to={(end + EAT).isoformat()}&format={fmt}"
        req = urllib.request.Request(
            f"{self.sim.base_url}/sim/admin/statement?{query}",
            headers={"Authorization": f"Bearer {self.sim.admin_token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()

    def test_lost_results_are_resolved_by_the_statement_alone(self):
        start = fields.Datetime.now() - timedelta(minutes=1)
        self.sim.set_faults(lost_result={"rate": 1.0, "msisdn": self.msisdn("71200000[12]")})
        for person in self.people:
            self._entitlement(person)
        self.prepare_and_send()
        self.drain()
        lost = self.people[:2]
        self.wait_until(
            lambda: all(self.payment_of(p).status == "paid" for p in self.people[2:]),
            message="the answered ones paid",
        )
        for _round in range(3):  # reconcile_max_attempts is 2: the third round flags them
            self.manager._mpesa_reconcile()
            self.drain()
        states = [self.payment_of(p).mpesa_transaction_ids[:1].state for p in lost]
        self.assertEqual(states, [MPESA.TX_NEEDS_REVIEW] * 2, "no status query answered them")

        for fmt in ("csv", "xlsx"):
            with self.subTest(fmt):
                data = self.export(start, fmt)
                summary = self.manager.mpesa_import_statement(base64.b64encode(data).decode(), f"s.{fmt}")
                if fmt == "csv":
                    self.assertEqual(summary["resolved_paid"], 2, summary)
                    self.assertEqual(summary["discrepancies"], 0, summary)
                    self.assertTrue(summary["complete"])
                else:
                    self.assertEqual((summary["lines"], summary["resolved_paid"]), (0, 0), summary)
        ledger = {row["originator_conversation_id"]: row for row in self.sim.transactions()}
        for person in self.people:
            payment = self.payment_of(person)
            self.assertEqual((payment.status, payment.mpesa_state), ("paid", MPESA.PAY_PAID), person.name)
            tx = payment.mpesa_transaction_ids
            self.assertEqual(len(tx), 1, "one request per payment: nothing paid twice")
            self.assertEqual(ledger[tx.originator_conversation_id]["receipt"], tx.receipt)


@tagged("post_install", "-at_install")
class TestStatementFromSimulatorET(TestStatementFromSimulator):
    """The same in Ethiopia: Safaricom Ethiopia's statement export, +251 numbers, birr."""

    MARKET = SIM_MARKET = "ET"
    CURRENCY = "ETB"


@tagged("post_install", "-at_install")
class TestStatementOfASharedShortcode(MpesaLiveCase):
    """Two programs pay from one organisation (one B2C shortcode), each with its own manager. The
    organisation's statement, imported on either manager, resolves both programs' payments, each
    line attributed to its own program and cycle: no false discrepancy for the other program's
    money, and each cycle's report shows only its own lines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.seed(
            wallets=[
                {
                    "msisdn": cls.msisdn(f"7130000{i:02d}"),
                    "name": f"Shared Person{i}",
                    "id_number": f"3000000{i}",
                }
                for i in range(1, 5)
            ]
        )
        cls.people = [cls._registrant(f"Shared{i}", phone=f"07130000{i:02d}") for i in range(1, 5)]
        cls.manager.statement_settle_minutes = 0
        # The second program: its own manager, on the same organisation (shortcode, simulator).
        wizard = cls.env["g2p.program.create.wizard"].create(
            {
                "name": "M-Pesa second program",
                "currency_id": cls.currency.id,
                "amount_per_cycle": cls.AMOUNT,
                "target_type": "individual",
            }
        )
        cls.program_b = cls.env["g2p.program"].browse(wizard.create_program()["res_id"])
        vals = dict(cls._manager_vals(cls.sim), name="M-Pesa B", program_id=cls.program_b.id)
        cls.manager_b = cls.env["g2p.program.payment.manager.mpesa"].create(vals)
        cls.manager_b._mpesa_use_for_program()
        cls.cycle_b = cls.env["g2p.cycle"].create(
            {
                "name": "Cycle B1",
                "program_id": cls.program_b.id,
                "start_date": fields.Date.today(),
                "end_date": fields.Date.add(fields.Date.today(), months=1),
            }
        )
        assert cls.manager_b.shortcode == cls.manager.shortcode

    def export(self, start):
        end = fields.Datetime.now() + timedelta(minutes=1)
        query = f"from={(start + EAT).isoformat()}&to={(end + EAT).isoformat()}&format=csv"
        req = urllib.request.Request(
            f"{self.sim.base_url}/sim/admin/statement?{query}",
            headers={"Authorization": f"Bearer {self.sim.admin_token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()

    def test_one_statement_settles_every_program_of_the_shortcode(self):
        self.assertEqual(self.manager._mpesa_statement_managers(), self.manager | self.manager_b)
        start = fields.Datetime.now() - timedelta(minutes=1)
        # Every result lost: only the statement can say what was paid.
        self.sim.set_faults(lost_result={"rate": 1.0, "msisdn": self.msisdn("71300000[1-4]")})
        people_a, people_b = self.people[:2], self.people[2:]
        for person in people_a:
            self._entitlement(person)
        self.prepare_and_send()
        for person in people_b:
            self.env["g2p.entitlement"].create(
                {
                    "partner_id": person.id,
                    "cycle_id": self.cycle_b.id,
                    "initial_amount": self.AMOUNT,
                    "state": "approved",
                    "is_cash_entitlement": True,
                }
            )
        self.cycle_b.prepare_payment()
        self.manager_b.with_context(queue_job__no_delay=True).send_payments(self.cycle_b.payment_batch_ids)
        self.drain()
        for manager in (self.manager, self.manager_b):
            for _round in range(3):  # reconcile_max_attempts is 2: the third round flags them
                manager._mpesa_reconcile()
                self.drain()
        for person in self.people:
            self.assertEqual(self.payment_of(person).mpesa_transaction_ids.state, MPESA.TX_NEEDS_REVIEW)

        data = self.export(start)
        summary = self.manager.mpesa_import_statement(base64.b64encode(data).decode(), "organisation.csv")
        self.assertEqual(summary["resolved_paid"], 4, summary)
        self.assertEqual(summary["discrepancies"], 0, "the other program's money is not 'no request'")
        ledger = {row["originator_conversation_id"]: row for row in self.sim.transactions()}
        for person in self.people:
            payment = self.payment_of(person)
            tx = payment.mpesa_transaction_ids
            self.assertEqual((payment.status, tx.state), ("paid", MPESA.TX_PAID), person.name)
            self.assertEqual(ledger[tx.originator_conversation_id]["receipt"], tx.receipt)
        statement = self.env["g2p.mpesa.statement"].browse(summary["statement_id"])
        payments = statement.line_ids.filtered(lambda line: line.kind == "payment")
        self.assertEqual(
            {(line.cycle_id, line.manager_id) for line in payments},
            {(self.cycle, self.manager), (self.cycle_b, self.manager_b)},
            "each line is its own program's",
        )
        self.assertEqual(len(payments.filtered(lambda line: line.cycle_id == self.cycle_b)), 2)
        self.assertFalse(self.env["g2p.mpesa.discrepancy"].search([("statement_id", "=", statement.id)]))
        # Each cycle's reconciliation sees only its own lines.
        for cycle, people in ((self.cycle, people_a), (self.cycle_b, people_b)):
            receipts = set(
                self.env["g2p.mpesa.statement.line"]
                .search([("cycle_id", "=", cycle.id), ("kind", "=", "payment")])
                .mapped("receipt")
            )
            expected = {self.payment_of(p).mpesa_transaction_ids.receipt for p in people}
            self.assertEqual(receipts, expected, cycle.name)
        # The same file on the other manager: the organisation has it already.
        again = self.manager_b.mpesa_import_statement(base64.b64encode(data).decode(), "again.csv")
        self.assertTrue(again["already_imported"], again)
        self.assertEqual(again["statement_id"], statement.id)
        self.assertIn(
            statement,
            self.env["g2p.mpesa.statement"].search(self.manager_b.action_mpesa_statements()["domain"]),
        )

    def test_a_manager_of_another_shortcode_or_m_pesa_is_not_the_same_organisation(self):
        other = self.manager_b.copy({"shortcode": "600999", "program_id": self.program_b.id})
        self.assertNotIn(other, self.manager._mpesa_statement_managers())
        self.assertEqual(other._mpesa_statement_managers(), other)
        elsewhere = self.manager_b.copy({"base_url": "http://127.0.0.1:9", "program_id": self.program_b.id})
        self.assertNotIn(elsewhere, self.manager._mpesa_statement_managers(), "another simulator")
