"""Preparing payments in bulk: the records OpenG2P's default manager makes, in a few queries.

The default manager creates each payment with its own create(), writes its account number and
batch one at a time and reads each partner's bank accounts lazily: about 1.4 ms a payment, and a
cache that grows with the cycle. Here the same records (one payment per approved entitlement
whose payments all failed, batches per tag and size, the account number snapshot) come from
create() with value lists, chunk by chunk, with the cache emptied between chunks so that a cycle
of 100,000 costs the memory of one chunk.
"""

from uuid import uuid4

from odoo import Command, _, fields, models
from odoo.osv import expression
from odoo.tools import split_every

from .payment_manager import notify

# Payments per create(): large enough to amortise the ORM's per-call cost, small enough that
# one chunk's cache stays a few megabytes.
PREPARE_CHUNK_SIZE = 1000


class G2PPaymentManagerMpesaPrepare(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    def prepare_payments(self, cycle, entitlements=None):
        # Same decisions and messages as the default; the approved entitlements come from one
        # search instead of reading every entitlement of the cycle into the cache.
        Entitlement = self.env["g2p.entitlement"]
        if not entitlements:
            domain = [("cycle_id", "=", cycle.id), ("state", "=", "approved")]
            entitlements = Entitlement.search(domain)
        else:
            approved = Entitlement.search([("id", "in", entitlements.ids), ("state", "=", "approved")])
            entitlements = self._mpesa_keep_order(entitlements, approved.ids)
        count = len(entitlements)
        if not count:
            kind, message = "danger", _("All entitlements selected are not approved!")
        elif count < self.MAX_PAYMENTS_FOR_SYNC_PREPARE:
            payments, _batches = self._prepare_payments(cycle, entitlements)
            if payments:
                kind = "success"
                message = (
                    _("Payment batch successfully created for %s beneficiary.", len(payments))
                    if len(payments) == 1
                    else _("Payment batch successfully created for %s beneficiaries.", len(payments))
                )
            else:
                kind, message = "danger", _("There are no new payments issued!")
        else:
            self._prepare_payments_async(cycle, entitlements, count)
            kind, message = "success", _("Preparing Payments Asynchronously.")
        return notify(_("Payment"), message, kind)

    def _mpesa_keep_order(self, records, kept_ids):
        kept = set(kept_ids)
        return records.browse([rid for rid in records.ids if rid in kept])

    def _mpesa_payable_entitlement_ids(self, entitlements):
        """Approved entitlements whose payments all failed (or that have none), in given order."""
        self.env["g2p.entitlement"].flush_model(["state"])
        self.env["g2p.payment"].flush_model(["entitlement_id", "status"])
        payable = set()
        for chunk in split_every(10000, entitlements.ids):
            self.env.cr.execute(
                """
                SELECT e.id FROM g2p_entitlement e
                 WHERE e.id = ANY(%s) AND e.state = 'approved'
                   AND NOT EXISTS (SELECT 1 FROM g2p_payment p
                                    WHERE p.entitlement_id = e.id
                                      AND p.status IS DISTINCT FROM 'failed')
                """,
                [list(chunk)],
            )
            payable.update(row[0] for row in self.env.cr.fetchall())
        return [eid for eid in entitlements.ids if eid in payable]

    def _mpesa_entitlement_values(self, ids):
        """{entitlement id: (cycle id, amount, fee, partner id)} in one query."""
        self.env["g2p.entitlement"].flush_model(["cycle_id", "initial_amount", "transfer_fee", "partner_id"])
        self.env.cr.execute(
            "SELECT id, cycle_id, initial_amount, transfer_fee, partner_id"
            " FROM g2p_entitlement WHERE id = ANY(%s)",
            [list(ids)],
        )
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    def _mpesa_account_numbers(self, partner_ids):
        """Each partner's first active bank account number, ordered as partner.bank_ids is."""
        self.env["res.partner.bank"].flush_model(["partner_id", "acc_number", "sequence", "active"])
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (partner_id) partner_id, acc_number
              FROM res_partner_bank
             WHERE partner_id = ANY(%s) AND active
          ORDER BY partner_id, sequence, id
            """,
            [list(partner_ids)],
        )
        return dict(self.env.cr.fetchall())

    def _prepare_payments(self, cycle, entitlements):
        if not entitlements:
            return None, None
        remaining = self._mpesa_payable_entitlement_ids(entitlements)
        Entitlement = self.env["g2p.entitlement"]
        Payment = self.env["g2p.payment"]
        Batch = self.env["g2p.payment.batch"]
        payment_ids, batch_ids = [], []
        cycle_id = cycle.id
        create_batch = self.create_batch
        for tag in self.batch_tag_ids:
            if not remaining:
                break
            # As the default: the tag takes the remaining entitlements its domain matches,
            # in the order they were given.
            domain = self._safe_eval(tag.domain)
            matched = set()
            for chunk in split_every(10000, remaining):
                matched.update(Entitlement.search(expression.AND([domain, [("id", "in", list(chunk))]])).ids)
            tag_ids = [eid for eid in remaining if eid in matched]
            remaining = [eid for eid in remaining if eid not in matched]
            group_size = max(tag.max_batch_size, 1) if create_batch else len(tag_ids)
            for group in split_every(group_size, tag_ids):
                batch_id = False
                if create_batch:
                    batch_id = Batch.create(
                        {
                            "name": str(uuid4()),
                            "cycle_id": cycle_id,
                            "stats_datetime": fields.Datetime.now(),
                            "tag_id": tag.id,
                        }
                    ).id
                    batch_ids.append(batch_id)
                group_payment_ids = []
                for chunk in split_every(PREPARE_CHUNK_SIZE, group):
                    group_payment_ids += self._mpesa_create_payments(chunk, batch_id)
                if batch_id:
                    Batch.browse(batch_id).write({"payment_ids": [Command.set(group_payment_ids)]})
                payment_ids += group_payment_ids
                # The records made so far are in the database: drop them from the cache.
                self.env.flush_all()
                self.env.invalidate_all()
        return Payment.browse(payment_ids) or None, Batch.browse(batch_ids) or None

    def _mpesa_create_payments(self, entitlement_ids, batch_id):
        values = self._mpesa_entitlement_values(entitlement_ids)
        accounts = self._mpesa_account_numbers({v[3] for v in values.values()})
        vals_list = []
        for eid in entitlement_ids:
            ent_cycle_id, amount, fee, partner_id = values[eid]
            vals = {
                "name": str(uuid4()),
                "entitlement_id": eid,
                "cycle_id": ent_cycle_id,
                "amount_issued": amount,
                "payment_fee": fee or 0.0,
                "state": "issued",
                "account_number": accounts.get(partner_id) or None,
            }
            if batch_id:
                vals["batch_id"] = batch_id
            vals_list.append(vals)
        return self.env["g2p.payment"].create(vals_list).ids
