from odoo import _, fields, models


class G2PPaymentBatch(models.Model):
    _inherit = "g2p.payment.batch"

    mpesa_progress = fields.Float(
        "Progress (%)", compute="_compute_mpesa_progress", help="Share of payments with a final result."
    )

    def _compute_mpesa_progress(self):
        for batch in self:
            total = batch.stats_issued_transactions
            done = batch.stats_paid_transactions + batch.stats_failed_transactions
            batch.mpesa_progress = 100.0 * done / total if total else 0.0

    def _mpesa_update_stats(self):
        """Recompute the stats_* counters in one query; post a summary when a batch completes."""
        if not self:
            return
        self.env["g2p.payment"].flush_model()
        self.env.cr.execute(
            """
            SELECT batch_id,
                   count(*),
                   coalesce(sum(amount_issued), 0),
                   count(*) FILTER (WHERE state IN ('sent', 'reconciled')),
                   coalesce(sum(amount_issued) FILTER (WHERE state IN ('sent', 'reconciled')), 0),
                   count(*) FILTER (WHERE status = 'paid'),
                   coalesce(sum(amount_paid) FILTER (WHERE status = 'paid'), 0),
                   count(*) FILTER (WHERE status = 'failed'),
                   coalesce(sum(amount_issued) FILTER (WHERE status = 'failed'), 0),
                   bool_and(coalesce(status_is_final, false))
              FROM g2p_payment
             WHERE batch_id IN %s
          GROUP BY batch_id
            """,
            [tuple(self.ids)],
        )
        now = fields.Datetime.now()
        for row in self.env.cr.fetchall():
            batch = self.browse(row[0])
            completed = bool(row[9])
            vals = {
                "stats_issued_transactions": row[1],
                "stats_issued_amount": row[2],
                "stats_sent_transactions": row[3],
                "stats_sent_amount": row[4],
                "stats_paid_transactions": row[5],
                "stats_paid_amount": row[6],
                "stats_failed_transactions": row[7],
                "stats_failed_amount": row[8],
                "stats_datetime": now,
            }
            newly_completed = completed and not batch.batch_has_completed
            if newly_completed:
                vals["batch_has_completed"] = True
                # A batch refused entirely at pre-flight sent nothing, yet it was processed: it
                # has started too (never "completed" without "started").
                vals["batch_has_started"] = True
            batch.write(vals)
            if newly_completed and batch.cycle_id:
                batch.cycle_id.message_post(
                    body=_(
                        "M-Pesa batch %(batch)s completed: %(paid)s paid (%(currency)s %(paid_amount)s), "
                        "%(failed)s failed (%(currency)s %(failed_amount)s)."
                    )
                    % {
                        "currency": batch.payment_ids[:1].currency_id.name or "KES",
                        "batch": batch.name,
                        "paid": row[5],
                        "paid_amount": f"{row[6]:,.2f}",
                        "failed": row[7],
                        "failed_amount": f"{row[8]:,.2f}",
                    }
                )
