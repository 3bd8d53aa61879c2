"""A national cycle's statement: imported by a queue job, row by row, with its progress shown; the
same file twice changes nothing; a crash in the middle applies nothing and the job runs again."""

import base64
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from ..models import payment_manager_statement as statement_module
from .common import MPESA, MpesaTransactionCase
from .test_statement import statement_csv


@tagged("post_install", "-at_install")
class TestStatementOfANationalCycle(MpesaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager.statement_settle_minutes = 0
        cls.people = [cls._registrant(f"Nation{i}", phone=f"07110001{i:02d}") for i in range(1, 6)]
        for person in cls.people:
            cls._entitlement(person)
        cls.cycle.prepare_payment()
        cls.start = fields.Datetime.now() - timedelta(minutes=30)

    def setUp(self):
        super().setUp()
        # Small numbers stand in for national ones: 2 lines a chunk, any file "large".
        for name, value in (("STATEMENT_JOB_BYTES", 100), ("CHUNK", 2)):
            patcher = patch.object(statement_module, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)
        self.txs, rows = [], []
        when = fields.Datetime.now()
        for index, person in enumerate(self.people, start=1):
            payment = self.payment_of(person)
            msisdn = f"2547110001{index:02d}"
            self.txs.append(
                self.env["g2p.mpesa.transaction"].create(
                    {
                        "originator_conversation_id": f"national-{payment.id}",
                        "payment_id": payment.id,
                        "manager_id": self.manager.id,
                        "msisdn": msisdn,
                        "amount": self.AMOUNT,
                        "state": MPESA.TX_NEEDS_REVIEW,
                        "last_submit_at": when - timedelta(seconds=10),
                    }
                )
            )
            rows.append(
                (
                    f"UN{index:08d}",
                    when,
                    f"Business Payment to {msisdn} - N",
                    0,
                    self.AMOUNT,
                    f"{msisdn} - N",
                    "",
                )
            )
        self.data = statement_csv(rows, self.start, fields.Datetime.now() + timedelta(minutes=10), 1_000_000)

    def states(self):
        self.env.invalidate_all()
        return [tx.state for tx in self.txs]

    def test_a_large_file_is_imported_by_a_queue_job_with_its_progress(self):
        with trap_jobs() as trap:
            summary = self.manager.mpesa_import_statement(self.data, "national.csv")
            statement = self.env["g2p.mpesa.statement"].browse(summary["statement_id"])
            self.assertTrue(summary["queued"])
            self.assertEqual(statement.state, "queued")
            self.assertTrue(statement.attachment_id, "the file waits in the filestore, not in the job")
            self.assertEqual(self.states(), [MPESA.TX_NEEDS_REVIEW] * 5, "nothing applied before the job")
            trap.assert_jobs_count(1, only=self.manager._mpesa_import_statement_job)
            # The same file while it waits: said so, no second job.
            again = self.manager.mpesa_import_statement(self.data, "national.csv")
            self.assertTrue(again["already_imported"] and again["queued"])
            trap.assert_jobs_count(1)
            trap.perform_enqueued_jobs()
        self.assertEqual(statement.state, "done")
        self.assertEqual((statement.line_count, statement.rows_done, statement.rows_total), (5, 5, 5))
        self.assertEqual(statement.resolved_paid_count, 5)
        self.assertEqual(statement.progress, 100.0)
        self.assertEqual(self.states(), [MPESA.TX_PAID] * 5)
        self.assertEqual(sorted(tx.receipt for tx in self.txs), [f"UN{i:08d}" for i in range(1, 6)])
        # And once done, the same file changes nothing.
        done = self.manager.mpesa_import_statement(self.data, "national.csv")
        self.assertTrue(done["already_imported"])
        self.assertFalse(done["queued"])
        self.assertEqual(
            self.env["g2p.mpesa.statement.line"].search_count([("statement_id", "=", statement.id)]), 5
        )

    def test_a_crash_in_the_middle_applies_nothing_and_the_job_runs_again(self):
        with trap_jobs():
            summary = self.manager.mpesa_import_statement(self.data, "national.csv")
        statement = self.env["g2p.mpesa.statement"].browse(summary["statement_id"])
        Manager = type(self.manager)
        original = Manager._mpesa_apply_statement_chunk
        chunks = []

        def dies_on_the_second_chunk(manager, *args, **kwargs):
            chunks.append(1)
            if len(chunks) == 2:
                raise RuntimeError("the worker was killed")
            return original(manager, *args, **kwargs)

        with patch.object(Manager, "_mpesa_apply_statement_chunk", dies_on_the_second_chunk):
            with self.assertRaises(RuntimeError), self.env.cr.savepoint():
                self.manager._mpesa_import_statement_job(statement.id)
        self.assertEqual(len(chunks), 2, "the first chunk was applied before the crash")
        self.assertEqual(
            self.states(), [MPESA.TX_NEEDS_REVIEW] * 5, "the first chunk was rolled back with the rest"
        )
        self.assertEqual(
            self.env["g2p.mpesa.statement.line"].search_count([("statement_id", "=", statement.id)]), 0
        )
        self.assertEqual(statement.state, "queued")
        # queue_job runs the job again: all of it, once.
        self.manager._mpesa_import_statement_job(statement.id)
        self.assertEqual(statement.state, "done")
        self.assertEqual((statement.line_count, statement.resolved_paid_count), (5, 5))
        self.assertEqual(self.states(), [MPESA.TX_PAID] * 5)
        # A third run (a duplicate delivery of the job) changes nothing.
        self.manager._mpesa_import_statement_job(statement.id)
        self.assertEqual(
            self.env["g2p.mpesa.statement.line"].search_count([("statement_id", "=", statement.id)]), 5
        )

    def test_a_large_file_that_is_no_statement_fails_on_the_statement_saying_why(self):
        bad = base64.b64encode(b"not a statement\n" * 20).decode()
        with trap_jobs() as trap:
            summary = self.manager.mpesa_import_statement(bad, "junk.csv")
            trap.perform_enqueued_jobs()
        statement = self.env["g2p.mpesa.statement"].browse(summary["statement_id"])
        self.assertEqual(statement.state, "failed")
        self.assertIn("Receipt No.", statement.import_error)
        self.assertEqual(self.states(), [MPESA.TX_NEEDS_REVIEW] * 5)

    def test_a_national_float_is_not_too_large_for_its_columns(self):
        """KES 30 million in the Utility account is 3 billion cents: more than a 32-bit column holds."""
        when = fields.Datetime.now()
        msisdn = "254711000101"
        rows = [
            ("UN99999991", when, "Funds in", 25_000_000, 0, "Treasury", ""),
            ("UN99999992", when, f"Business Payment to {msisdn} - N", 0, self.AMOUNT, f"{msisdn} - N", ""),
        ]
        data = statement_csv(rows, self.start, fields.Datetime.now() + timedelta(minutes=10), 30_000_000)
        summary = self.manager.with_context(mpesa_statement_inline=True).mpesa_import_statement(
            data, "float.csv"
        )
        statement = self.env["g2p.mpesa.statement"].browse(summary["statement_id"])
        self.assertEqual(statement.opening_balance_cents, 3_000_000_000)
        self.assertEqual(statement.closing_balance_cents, (55_000_000 - self.AMOUNT) * 100)
        lines = statement.line_ids.sorted("row")
        self.assertEqual(max(lines.mapped("balance_cents")), 5_500_000_000)
        self.assertEqual(max(lines.mapped("paid_in_cents")), 2_500_000_000)
        self.assertTrue(statement.complete)
