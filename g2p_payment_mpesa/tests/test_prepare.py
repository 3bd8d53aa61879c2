from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from .common import MpesaTransactionCase


@tagged("post_install", "-at_install")
class TestPrepare(MpesaTransactionCase):
    """Batched preparation makes exactly what OpenG2P's default manager makes, only faster."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.big_tag = env["g2p.payment.batch.tag"].create(
            {"name": "Big", "order": 1, "domain": "[('initial_amount', '>=', 600)]", "max_batch_size": 2}
        )
        cls.rest_tag = env["g2p.payment.batch.tag"].create(
            {"name": "Rest", "order": 2, "domain": "[]", "max_batch_size": 3}
        )
        tags = [(6, 0, (cls.big_tag | cls.rest_tag).ids)]
        cls.manager.write({"batch_tag_ids": tags})
        cls.default = env["g2p.program.payment.manager.default"].create(
            {"name": "Default", "program_id": cls.program.id, "create_batch": True, "batch_tag_ids": tags}
        )
        cls.partners = [cls._registrant(f"P{i}", phone=f"07120000{i:02d}") for i in range(9)]
        # Account snapshot: the first bank account in partner.bank_ids order (sequence, id).
        Bank = env["res.partner.bank"]
        Bank.create({"partner_id": cls.partners[0].id, "acc_number": "ACC-0-B", "sequence": 20})
        Bank.create({"partner_id": cls.partners[0].id, "acc_number": "ACC-0-A", "sequence": 10})
        Bank.create({"partner_id": cls.partners[3].id, "acc_number": "ACC-3"})
        cls.amounts = [500, 700, 650, 100, 900, 500, 800, 300, 1000]
        cls.cycle_default = cls.cycle
        cls.cycle_ours = env["g2p.cycle"].create(
            {
                "name": "Cycle ours",
                "program_id": cls.program.id,
                "start_date": fields.Date.today(),
                "end_date": fields.Date.add(fields.Date.today(), months=1),
            }
        )
        cls.ents_default = cls._entitlements(cls.cycle_default)
        cls.ents_ours = cls._entitlements(cls.cycle_ours)

    @classmethod
    def _entitlements(cls, cycle):
        Entitlement = cls.env["g2p.entitlement"]
        ents = Entitlement.browse()
        for i, (partner, amount) in enumerate(zip(cls.partners, cls.amounts, strict=True)):
            ents |= Entitlement.create(
                {
                    "partner_id": partner.id,
                    "cycle_id": cycle.id,
                    "initial_amount": amount,
                    "transfer_fee": i % 3,
                    # One not approved: neither manager pays it.
                    "state": "draft" if i == 7 else "approved",
                    "is_cash_entitlement": True,
                }
            )
        return ents

    def _summary(self, payments, batches):
        """What must be equal: per batch its tag and payments; per payment everything but ids."""
        payments = payments or self.env["g2p.payment"]
        batches = batches or self.env["g2p.payment.batch"]
        self.env.invalidate_all()
        for batch in batches:
            self.assertEqual(batch.payment_ids.batch_id, batch)
            self.assertEqual(
                set(batch.payment_ids.ids), set(payments.filtered_domain([("batch_id", "=", batch.id)]).ids)
            )
        self.assertEqual(len(set(payments.mapped("name"))), len(payments))

        def row(p):
            return (
                p.partner_id.id,
                p.amount_issued,
                p.payment_fee,
                p.account_number or None,
                p.state,
                p.entitlement_id.cycle_id == p.cycle_id,
                p.currency_id.name,
            )

        return sorted(
            (batch.tag_id.name, bool(batch.stats_datetime), sorted(row(p) for p in batch.payment_ids))
            for batch in batches
        ), sorted(row(p) for p in payments)

    def test_same_payments_batches_tags_and_accounts_as_the_default_manager(self):
        expected = self._summary(*self.default._prepare_payments(self.cycle_default, self.ents_default))
        got = self._summary(*self.manager._prepare_payments(self.cycle_ours, self.ents_ours))
        self.assertEqual(got, expected)
        batches, rows = got
        # 8 approved: 5 of 600 or more in batches of 2 (2, 2, 1), the other 3 in one batch of 3.
        self.assertEqual(
            sorted((tag, len(p)) for tag, _dt, p in batches),
            [("Big", 1), ("Big", 2), ("Big", 2), ("Rest", 3)],
        )
        self.assertEqual(len(rows), 8)
        by_partner = {r[0]: r for r in rows}
        self.assertEqual(by_partner[self.partners[0].id][3], "ACC-0-A")
        self.assertEqual(by_partner[self.partners[3].id][3], "ACC-3")
        self.assertIsNone(by_partner[self.partners[1].id][3])
        self.assertEqual(
            {p.cycle_id for p in self.cycle_ours.payment_batch_ids.payment_ids}, {self.cycle_ours}
        )

    def test_prepare_again_pays_only_entitlements_whose_payments_all_failed(self):
        for manager, cycle, ents in (
            (self.default, self.cycle_default, self.ents_default),
            (self.manager, self.cycle_ours, self.ents_ours),
        ):
            payments, _batches = manager._prepare_payments(cycle, ents)
            of = {p.partner_id: p for p in payments}
            p = self.partners
            of[p[1]].write({"status": "failed", "state": "reconciled"})
            of[p[3]].write({"status": "failed", "state": "reconciled"})
            of[p[4]].write({"status": "paid", "state": "reconciled"})
            # Sent, no result yet (status empty): not paid again.
            of[p[0]].write({"state": "sent"})
        expected = self._summary(*self.default._prepare_payments(self.cycle_default, self.ents_default))
        got = self._summary(*self.manager._prepare_payments(self.cycle_ours, self.ents_ours))
        self.assertEqual(got, expected)
        self.assertEqual(sorted(r[1] for r in got[1]), [100, 700])
        # A third time: nothing left to pay.
        self.assertEqual(self.manager._prepare_payments(self.cycle_ours, self.ents_ours), (None, None))

    def test_prepare_button_sync_and_async_paths(self):
        action = self.manager.prepare_payments(self.cycle_ours)
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(len(self.cycle_ours.payment_batch_ids.payment_ids), 8)
        self.assertEqual(self.manager.prepare_payments(self.cycle_ours)["params"]["type"], "danger")

        # Above MAX_PAYMENTS_FOR_SYNC_PREPARE the cycle is locked and a job prepares them.
        self.cycle_ours.payment_batch_ids.payment_ids.write({"status": "failed", "state": "reconciled"})
        manager = self.manager.with_context(queue_job__no_delay=True)
        with patch.object(type(manager), "MAX_PAYMENTS_FOR_SYNC_PREPARE", 2):
            action = manager.prepare_payments(self.cycle_ours)
        self.assertEqual(action["params"]["message"], "Preparing Payments Asynchronously.")
        self.env.invalidate_all()
        issued = self.cycle_ours.payment_batch_ids.payment_ids.filtered(lambda p: p.state == "issued")
        self.assertEqual(len(issued), 8)
        self.assertFalse(self.cycle_ours.locked)

    def test_without_batches_payments_only(self):
        self.manager.create_batch = False
        self.default.create_batch = False
        expected = self._summary(*self.default._prepare_payments(self.cycle_default, self.ents_default))
        got = self._summary(*self.manager._prepare_payments(self.cycle_ours, self.ents_ours))
        self.assertEqual(got, expected)
        self.assertEqual(len(got[1]), 8)
        self.assertFalse(self.cycle_ours.payment_batch_ids)

    def test_chunks_span_batches(self):
        # Chunks smaller than a batch: one batch is filled by several create() calls.
        module = "odoo.addons.g2p_payment_mpesa.models.payment_manager_prepare.PREPARE_CHUNK_SIZE"
        self.rest_tag.max_batch_size = 500
        self.big_tag.max_batch_size = 500
        with patch(module, 2):
            payments, batches = self.manager._prepare_payments(self.cycle_ours, self.ents_ours)
        self.assertEqual(len(payments), 8)
        self.assertEqual(sorted(len(b.payment_ids) for b in batches), [3, 5])
        self.assertTrue(all(p.issuance_date <= fields.Datetime.now() for p in payments))
