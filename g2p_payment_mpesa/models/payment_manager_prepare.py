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

from odoo.addons.queue_job.delay import group

from .payment_manager import notify

# Payments per create(): large enough to amortise the ORM's per-call cost, small enough that
# one chunk's cache stays a few megabytes.
PREPARE_CHUNK_SIZE = 1000
# Entitlements read (and checked payable, sorted into tags) at a time.
ENTITLEMENT_CHUNK = 10000


class G2PPaymentManagerMpesaPrepare(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    def prepare_payments(self, cycle, entitlements=None):
        # Same decisions and messages as the default. A whole cycle's approved entitlements are
        # counted, not read: the preparation reads them by id, ENTITLEMENT_CHUNK at a time.
        Entitlement = self.env["g2p.entitlement"]
        if not entitlements:
            entitlements = None
            count = Entitlement.search_count([("cycle_id", "=", cycle.id), ("state", "=", "approved")])
        else:
            approved = Entitlement.search([("id", "in", entitlements.ids), ("state", "=", "approved")])
            entitlements = self._mpesa_keep_order(entitlements, approved.ids)
            count = len(entitlements)
        if not count:
            kind, message = "danger", _("All entitlements selected are not approved!")
        elif count < self.MAX_PAYMENTS_FOR_SYNC_PREPARE:
            made = self._mpesa_prepare(cycle, entitlements)
            if made:
                kind = "success"
                message = (
                    _("Payment batch successfully created for %s beneficiary.", made)
                    if made == 1
                    else _("Payment batch successfully created for %s beneficiaries.", made)
                )
            else:
                kind, message = "danger", _("There are no new payments issued!")
        else:
            self._prepare_payments_async(cycle, entitlements, count)
            kind, message = "success", _("Preparing Payments Asynchronously.")
        return notify(_("Payment"), message, kind)

    def _prepare_payments_async(self, cycle, entitlements, entitlements_count):
        """As the default (the cycle locked, one job, unlocked when done), but the job is given the
        cycle, not a recordset of every entitlement (300,000 ids in its arguments and its memory),
        and answers a count (the default's job stored every payment id as its result)."""
        cycle.message_post(body=_("Prepare payments started for %s entitlements.", entitlements_count))
        cycle.write({"locked": True, "locked_reason": _("Prepare payments for entitlements in cycle.")})
        main_job = group(self.delayable()._mpesa_prepare_job(cycle, entitlements))
        main_job.on_done(self.delayable().mark_job_as_done(cycle, _("Prepared payments.")))
        main_job.delay()

    def _mpesa_prepare_job(self, cycle, entitlements=None):
        made = self._mpesa_prepare(cycle, entitlements)
        return _("%s payments prepared.") % made

    def _prepare_payments(self, cycle, entitlements):
        """OpenG2P's entry point (others call it with a few entitlements): the payments and
        batches made, as recordsets."""
        if not entitlements:
            return None, None
        payment_ids, batch_ids = [], []
        self._mpesa_prepare(cycle, entitlements, payment_ids.extend, batch_ids.append)
        Payment, Batch = self.env["g2p.payment"], self.env["g2p.payment.batch"]
        return Payment.browse(payment_ids) or None, Batch.browse(batch_ids) or None

    def _mpesa_keep_order(self, records, kept_ids):
        kept = set(kept_ids)
        return records.browse([rid for rid in records.ids if rid in kept])

    def _mpesa_entitlement_chunks(self, cycle, entitlements):
        """The entitlement ids to prepare, ENTITLEMENT_CHUNK at a time: the given ones in their
        order, or (None) the cycle's approved ones by id, read a chunk at a time."""
        if entitlements is not None:
            yield from split_every(ENTITLEMENT_CHUNK, entitlements.ids, list)
            return
        self.env["g2p.entitlement"].flush_model(["cycle_id", "state"])
        last = 0
        while True:
            self.env.cr.execute(
                "SELECT id FROM g2p_entitlement WHERE cycle_id = %s AND state = 'approved' AND id > %s"
                " ORDER BY id LIMIT %s",
                [cycle.id, last, ENTITLEMENT_CHUNK],
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                return
            yield ids
            last = ids[-1]

    def _mpesa_payable_entitlement_ids(self, ids):
        """Of `ids`, the approved entitlements whose payments all failed (or that have none), in
        the given order."""
        self.env["g2p.entitlement"].flush_model(["state"])
        self.env["g2p.payment"].flush_model(["entitlement_id", "status"])
        self.env.cr.execute(
            """
            SELECT e.id FROM g2p_entitlement e
             WHERE e.id = ANY(%s) AND e.state = 'approved'
               AND NOT EXISTS (SELECT 1 FROM g2p_payment p
                                WHERE p.entitlement_id = e.id
                                  AND p.status IS DISTINCT FROM 'failed')
            """,
            [list(ids)],
        )
        payable = {row[0] for row in self.env.cr.fetchall()}
        return [eid for eid in ids if eid in payable]

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

    def _mpesa_prepare(self, cycle, entitlements, on_payments=None, on_batch=None):
        """Make the payments and batches the default manager makes, ENTITLEMENT_CHUNK entitlements
        at a time with the cache emptied between chunks, so that memory does not grow with the
        cycle. Each batch tag takes, in order, the payable entitlements no earlier tag took that
        its domain matches; they fill batches of its size in the entitlements' order (the batches
        the default makes; only their ids' order differs). Returns the number of payments made."""
        Entitlement = self.env["g2p.entitlement"]
        Batch = self.env["g2p.payment.batch"]
        tags = [(tag, self._safe_eval(tag.domain)) for tag in self.batch_tag_ids]
        create_batch = self.create_batch
        pending = {tag.id: [] for tag, _domain in tags}  # a tag's entitlements not in a batch yet
        made = 0

        def pay(tag, ids):
            nonlocal made
            batch_id = False
            if create_batch:
                batch_id = Batch.create(
                    {
                        "name": str(uuid4()),
                        "cycle_id": cycle.id,
                        "stats_datetime": fields.Datetime.now(),
                        "tag_id": tag.id,
                    }
                ).id
                if on_batch:
                    on_batch(batch_id)
            payment_ids = []
            for chunk in split_every(PREPARE_CHUNK_SIZE, ids):
                payment_ids += self._mpesa_create_payments(chunk, batch_id)
            if batch_id:
                Batch.browse(batch_id).write({"payment_ids": [Command.set(payment_ids)]})
            if on_payments:
                on_payments(payment_ids)
            made += len(payment_ids)

        for chunk in self._mpesa_entitlement_chunks(cycle, entitlements):
            remaining = self._mpesa_payable_entitlement_ids(chunk)
            for tag, domain in tags:
                if not remaining:
                    break
                matched = set(Entitlement.search(expression.AND([domain, [("id", "in", remaining)]])).ids)
                taken = [eid for eid in remaining if eid in matched]
                remaining = [eid for eid in remaining if eid not in matched]
                if not taken:
                    continue
                if not create_batch:
                    pay(tag, taken)
                    continue
                queue = pending[tag.id]
                queue += taken
                size = max(tag.max_batch_size, 1)
                while len(queue) >= size:
                    pay(tag, queue[:size])
                    del queue[:size]
            # The records made so far are in the database: drop them from the cache.
            self.env.flush_all()
            self.env.invalidate_all()
        for tag, _domain in tags:
            if pending[tag.id]:
                pay(tag, pending[tag.id])
        return made

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
