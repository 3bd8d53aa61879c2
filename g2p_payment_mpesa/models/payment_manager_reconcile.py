"""Reconciliation: what has no final result after a while is asked about; what stays unknown is
flagged for a person."""

import logging

from odoo import _, api, fields, models

from mpesa_wire import OutcomeKind, WireError

from .. import const
from .payment_manager_results import CallbackRefused

_logger = logging.getLogger(__name__)

# A reserved request whose job has not acknowledged it within this time lost its job (a crash).
STALE_RESERVATION_MINUTES = 10


class G2PPaymentManagerMpesaReconcile(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    @api.model
    def _cron_mpesa_reconcile(self):
        for manager in self.search([]):
            manager._mpesa_update_open_batches()
            if manager.sending_enabled:
                manager._mpesa_reconcile()

    def _mpesa_update_open_batches(self):
        batches = self.env["g2p.payment.batch"].search(
            [
                ("batch_has_started", "=", True),
                ("batch_has_completed", "=", False),
                ("cycle_id.program_id", "=", self.program_id.id),
            ]
        )
        batches._mpesa_update_stats()
        batches.cycle_id._mpesa_notify_progress(throttled=False)

    def _mpesa_mark_due(self, limit):
        Tx = self.env["g2p.mpesa.transaction"].sudo()
        due = self._mpesa_due_transactions(limit)
        if not due:
            return Tx
        # A result may be applying to one of them right now: lock, skip what is locked, and look
        # at the state again under the lock so that nothing final is asked about or flagged.
        self.env.cr.execute(
            "SELECT id FROM g2p_mpesa_transaction WHERE id IN %s AND state IN %s FOR UPDATE SKIP LOCKED",
            [tuple(due.ids), (const.TX_RESERVED, const.TX_ACCEPTED, const.TX_UNKNOWN)],
            log_exceptions=False,  # a conflict is retried by _mpesa_retrying
        )
        txs = Tx.browse([row[0] for row in self.env.cr.fetchall()])
        txs.invalidate_recordset()
        to_query = Tx
        next_check = fields.Datetime.add(fields.Datetime.now(), minutes=self.reconcile_after_minutes)
        for tx in txs:
            if tx.status_queries >= self.reconcile_max_attempts:
                tx._mpesa_flag_for_review(
                    _("No final answer from M-Pesa after %s status queries: check the M-Pesa portal.")
                    % tx.status_queries
                )
                continue
            tx.write({"status_queries": tx.status_queries + 1, "next_check_at": next_check})
            to_query |= tx
        return to_query

    def _mpesa_due_transactions(self, limit):
        now = fields.Datetime.now()
        stale = fields.Datetime.subtract(now, minutes=STALE_RESERVATION_MINUTES)
        return (
            self.env["g2p.mpesa.transaction"]
            .sudo()
            .search(
                [
                    ("manager_id", "=", self.id),
                    "|",
                    "&",
                    ("state", "in", (const.TX_ACCEPTED, const.TX_UNKNOWN)),
                    ("next_check_at", "<=", now),
                    "&",
                    ("state", "=", const.TX_RESERVED),
                    ("last_submit_at", "<=", stale),
                ],
                order="next_check_at, id",
                limit=limit,
            )
        )

    def _mpesa_apply_answered_status(self, ocid, result):
        try:
            return self._mpesa_apply_status(result, ocid)
        except CallbackRefused as exc:
            _logger.warning("M-Pesa status answer for %s not applied: %s", ocid, exc)
            return "refused"

    def _mpesa_reconcile(self, limit=500):
        """Send a Transaction Status query for each request due; flag those asked often enough."""
        self.ensure_one()
        # Count the queries before they leave (a crash must not hide attempts), retrying if a
        # callback updates the same rows meanwhile.
        to_query = self._mpesa_retrying(lambda: self._mpesa_mark_due(limit))
        if not to_query:
            return 0
        client = self._mpesa_client()
        timeout_url = self._mpesa_callback_url("timeout")
        jobs = [
            (
                tx.originator_conversation_id,
                f"{self._mpesa_callback_url('status')}/{tx.originator_conversation_id}",
            )
            for tx in to_query
        ]

        def ask(job):
            ocid, result_url = job
            try:
                return client.transaction_status(
                    originator_conversation_id=ocid, result_url=result_url, timeout_url=timeout_url
                )
            except WireError as exc:
                return exc
            except Exception as exc:
                _logger.exception("M-Pesa status query for %s failed", ocid)
                return exc

        with client:
            answers = self._mpesa_in_parallel(ask, jobs)
        for (ocid, _url), answer in zip(jobs, answers, strict=True):
            if getattr(answer, "result", None) is not None:  # answered in the response (OpenAPI)
                self._mpesa_retrying(lambda o=ocid, a=answer: self._mpesa_apply_answered_status(o, a.result))
        refused = [
            ocid
            for (ocid, _url), answer in zip(jobs, answers, strict=True)
            if not (hasattr(answer, "kind") and answer.kind == OutcomeKind.ACCEPTED)
        ]
        if refused:
            _logger.warning(
                "M-Pesa: %s status queries not accepted (will retry): %s", len(refused), refused[:5]
            )
        return len(jobs)
