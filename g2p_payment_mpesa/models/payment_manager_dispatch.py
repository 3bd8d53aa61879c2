"""Sending: pre-flight, reservation of the OriginatorConversationID, submission, acknowledgement."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from psycopg2 import OperationalError

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tools import SQL, float_repr, split_every

from mpesa_wire import (
    AuthError,
    B2CRequest,
    InvalidAmount,
    InvalidMsisdn,
    OutcomeKind,
    SubmitOutcome,
    normalise_msisdn,
    to_whole_units,
)

from .. import const
from .payment_manager import money_text
from .payment_manager import notify as _notify
from .payment_manager_results import CallbackRefused

_logger = logging.getLogger(__name__)


class PreflightError(ValueError):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code


class G2PPaymentManagerMpesaDispatch(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    # ------------------------------------------------------------------ helpers
    def _mpesa_in_test(self):
        # Odoo's test runner marks its thread; HttpCase also puts the registry in test mode.
        return getattr(threading.current_thread(), "testing", False) or self.env.registry.in_test_mode()

    def _mpesa_commit(self):
        """Make what was written durable before talking to M-Pesa.

        Tests run in one transaction that must not be committed; there the ordering still holds
        because nothing else writes concurrently.
        """
        if self._mpesa_in_test():
            self.env.flush_all()  # the test HTTP server (callbacks) shares this transaction
        else:
            self.env.cr.commit()  # pylint: disable=invalid-commit
            self._mpesa_relock_job()

    def _mpesa_relock_job(self):
        """Hold our queue_job lock again after a commit.

        queue_job tells a running job from one whose worker died by a row lock the job's
        transaction holds; a commit releases it, and the runner's dead-job check would then start
        this job a second time while it still runs (re-sending its requests, racing its own
        acknowledgements). Taking the lock again keeps crash recovery for jobs that really died.
        """
        job_uuid = self.env.context.get("job_uuid")
        if job_uuid:
            self.env.cr.execute(
                "SELECT 1 FROM queue_job_lock WHERE queue_job_id IN "
                "(SELECT id FROM queue_job WHERE uuid = %s AND state = 'started') FOR UPDATE",
                [job_uuid],
            )

    def _mpesa_retrying(self, apply):
        """Run `apply` and commit, retrying on concurrent updates (a callback racing the ack)."""
        if self._mpesa_in_test():
            return apply()
        for attempt in range(6):
            try:
                result = apply()
                self.env.cr.commit()  # pylint: disable=invalid-commit
                self._mpesa_relock_job()
                return result
            except OperationalError as exc:
                if exc.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY or attempt == 5:
                    raise
                self.env.cr.rollback()
                time.sleep(0.05 * 2**attempt)

    def _mpesa_mark_batches_started(self, batches):
        """A batch has started once its first request leaves.

        Written in a short transaction of its own: the send jobs of one batch run in parallel, and
        one writing the batch row inside its own transaction would make the others retry.
        """
        todo = batches.filtered(lambda b: not b.batch_has_started)
        if not todo:
            return
        if self._mpesa_in_test():
            todo.write({"batch_has_started": True})
            return
        for attempt in range(6):
            try:
                with self.env.registry.cursor() as cr:
                    # READ COMMITTED: a job marking the same batch meanwhile makes this one wait
                    # and find it started, instead of failing to serialize (an error in the log).
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    cr.execute(
                        "UPDATE g2p_payment_batch SET batch_has_started = true"
                        " WHERE id IN %s AND batch_has_started IS NOT TRUE",
                        [tuple(todo.ids)],
                        log_exceptions=False,
                    )
                break
            except OperationalError as exc:
                if exc.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY or attempt == 5:
                    raise
                time.sleep(0.05 * 2**attempt)
        todo.invalidate_recordset(["batch_has_started"])

    def _mpesa_amount(self, value, currency):
        # Monetary fields are floats in the ORM: go through the currency's decimal representation
        # so 500.0 becomes Decimal("500.00") and 499.999 is not silently rounded into a whole.
        digits = currency.decimal_places if currency else 2
        return to_whole_units(
            Decimal(float_repr(value, max(digits, 2))),
            min_amount=self.min_amount,
            max_amount=self.max_amount,
            currency=self._mpesa_market().currency,
        )

    def _mpesa_payee_number(self, partner):
        if self.payee_source == "id_type":
            reg = partner.reg_ids.filtered(lambda r: r.id_type == self.payee_id_type_id and r.value)[:1]
            if not reg:
                raise PreflightError(
                    const.PREFLIGHT_MSISDN,
                    _("No %s on the registrant to pay to.") % self.payee_id_type_id.name,
                )
            return reg.value
        phone = partner.phone_number_ids.filtered(lambda p: not p.disabled)[:1]
        if not phone:
            raise PreflightError(const.PREFLIGHT_MSISDN, _("The registrant has no active phone number."))
        return phone.phone_no

    def _mpesa_validation_id(self, partner):
        if not self.validated_b2c:
            return None, None
        reg = partner.reg_ids.filtered(
            lambda r: r.id_type == self.validation_id_type_id and r.value and r.status != "invalid"
        )[:1]
        if not reg:
            raise PreflightError(
                const.PREFLIGHT_ID,
                _("Validated B2C needs the registrant's %s; there is none.")
                % self.validation_id_type_id.name,
            )
        return self.validation_id_code, reg.value.strip()

    def _mpesa_check_payment(self, payment):
        """Everything M-Pesa would refuse for our own mistake, checked before any money moves."""
        return self._mpesa_check_payee(payment.partner_id, payment.amount_issued, payment.currency_id)

    def _mpesa_check_payee(self, partner, value, currency):
        """(msisdn, whole amount, ID type, ID number) M-Pesa would accept, or PreflightError:
        the one check behind Send (payments) and the approver's pre-flight (entitlements)."""
        market = self._mpesa_market()
        if currency.name != market.currency:
            raise PreflightError(
                const.PREFLIGHT_CURRENCY,
                _("M-Pesa pays in %(ours)s; this payment is in %(theirs)s.")
                % {"ours": market.currency, "theirs": currency.name or _("no currency")},
            )
        try:
            amount = self._mpesa_amount(value, currency)
        except InvalidAmount as exc:
            raise PreflightError(const.PREFLIGHT_AMOUNT, str(exc)) from exc
        try:
            msisdn = normalise_msisdn(self._mpesa_payee_number(partner), market.number_plan)
        except InvalidMsisdn as exc:
            raise PreflightError(const.PREFLIGHT_MSISDN, str(exc)) from exc
        if (partner.id, msisdn) in self._mpesa_reversed_numbers():
            raise PreflightError(
                const.PREFLIGHT_MSISDN,
                _(
                    "A payment to %s reached someone else and was reversed: correct the registrant's "
                    "number before paying again."
                )
                % msisdn,
            )
        id_type, id_number = self._mpesa_validation_id(partner)
        return msisdn, amount, id_type, id_number

    def _mpesa_reversed_numbers(self):
        """{(registrant id, number)} whose payment someone else received and was reversed: never
        paid to that number again. One query per manager and transaction (the cursor's cache,
        dropped when a reversal completes)."""
        cache = self.env.cr.cache.setdefault(const.REVERSED_NUMBERS_CACHE, {})
        if self.id not in cache:
            self.env["g2p.mpesa.reversal"].flush_model()
            self.env["g2p.payment"].flush_model(["mpesa_receiver_mismatch"])
            self.env.cr.execute(
                """
                SELECT ent.partner_id, tx.msisdn
                  FROM g2p_mpesa_reversal rev
                  JOIN g2p_mpesa_transaction tx ON tx.id = rev.transaction_id
                  JOIN g2p_payment pay ON pay.id = tx.payment_id
                  JOIN g2p_entitlement ent ON ent.id = pay.entitlement_id
                 WHERE rev.state = %s AND tx.manager_id = %s AND pay.mpesa_receiver_mismatch
                """,
                [const.REV_REVERSED, self.id],
            )
            cache[self.id] = set(self.env.cr.fetchall())
        return cache[self.id]

    # ------------------------------------------------------------------ sending
    def _send_payments(self, batches):
        self.ensure_one()
        if not batches:
            return _notify(_("Payment"), _("No payment batches to process."), "warning")
        if not self.sending_enabled:
            raise UserError(_("Sending is disabled on M-Pesa manager %s (a copied database?).") % self.name)
        if self.sending_blocked_reason:
            raise UserError(
                _("Sending is stopped on M-Pesa manager %(name)s: %(reason)s. Fix it, then resume.")
                % {"name": self.name, "reason": self.sending_blocked_reason}
            )
        self._mpesa_config()  # missing settings fail here, before any payment changes
        Payment = self.env["g2p.payment"]
        payment_ids = Payment.search(
            [("batch_id", "in", batches.ids), ("state", "=", "issued"), ("mpesa_state", "=", False)],
            order="id",
        ).ids
        if not payment_ids:
            return _notify(_("Payment"), _("There are no payments left to send."), "warning")

        sendable, refused, total = [], 0, 0
        for chunk in split_every(1000, payment_ids):
            queued = {}
            for payment in Payment.browse(chunk):
                try:
                    msisdn, amount, _id_type, _id_number = self._mpesa_check_payment(payment)
                except PreflightError as exc:
                    self._mpesa_refuse(payment, exc.code, str(exc))
                    refused += 1
                    continue
                queued[payment.id] = {"mpesa_msisdn": msisdn, "mpesa_state": const.PAY_QUEUED}
                total += amount
            # Written before the float check: refusing the whole Send rolls all of it back.
            Payment._mpesa_write_rows(queued)
            sendable += queued
            self.env.flush_all()
            self.env.invalidate_all()

        self._mpesa_check_float(total)
        # Asked of PostgreSQL: reading batch_id through the ORM prefetched every column of every
        # payment of the cycle into this worker (200 MB more at 100,000 payments).
        self.env.cr.execute("SELECT DISTINCT batch_id FROM g2p_payment WHERE id = ANY(%s)", [payment_ids])
        touched = self.env["g2p.payment.batch"].browse([row[0] for row in self.env.cr.fetchall() if row[0]])
        if sendable:
            self._mpesa_enqueue(sendable)
        touched._mpesa_update_stats()
        touched.cycle_id._mpesa_notify_progress(throttled=False)
        queued = (
            _("%(sent)s payment queued for M-Pesa (%(total)s).")
            if len(sendable) == 1
            else _("%(sent)s payments queued for M-Pesa (%(total)s).")
        )
        message = queued % {
            "sent": len(sendable),
            "total": money_text(total * 100, self._mpesa_market().currency),
        }
        if refused:
            message += " " + _("%s refused before sending: see the failed payments.") % refused
        return _notify(_("M-Pesa"), message, "warning" if refused else "success", sticky=bool(refused))

    def _mpesa_refuse(self, payment, code, reason):
        payment.write(
            {
                "state": "reconciled",
                "status": "failed",
                "status_is_final": True,
                "status_datetime": fields.Datetime.now(),
                "mpesa_state": const.PAY_FAILED,
                "mpesa_result_code": code,
                "mpesa_result_desc": reason,
            }
        )

    def _mpesa_check_float(self, total):
        """Refuse a batch the float cannot cover, when M-Pesa has told us the float."""
        short = self._mpesa_float_shortfall(total)
        if short:
            raise UserError(short + " " + _("Top it up, then send again."))

    def _mpesa_float_shortfall(self, total):
        """Why the float M-Pesa last reported cannot cover `total`, or None."""
        if not self.float_utility_balance or not total:
            return None
        available = Decimal(self.float_utility_balance)
        if total <= available:
            return None
        return _(
            "The M-Pesa float (Utility account, %(currency)s %(available)s as reported %(at)s) does not "
            "cover these payments (%(currency)s %(total)s)."
        ) % {
            "currency": self._mpesa_market().currency,
            "available": f"{available:,.2f}",
            "at": self.float_checked_at,
            "total": f"{total:,}",
        }

    def _mpesa_preflight(self, entitlements, progress=None):
        """What M-Pesa would refuse among these entitlements, before anyone approves them.

        Changes nothing. Returns (problems, total): problems as [(entitlement, code, reason)],
        total the whole shillings of those that would be paid. Read PREFLIGHT_CHUNK at a time with
        the ORM's cache emptied in between, so a national cycle is checked in flat memory;
        ``progress(done, total)`` is told after each chunk."""
        problems, total = [], 0
        ids = entitlements.ids
        for start in range(0, len(ids), const.PREFLIGHT_CHUNK):
            if start:
                self.env.flush_all()
                self.env.invalidate_all()
            for entitlement in entitlements.browse(ids[start : start + const.PREFLIGHT_CHUNK]):
                try:
                    _msisdn, amount, _id_type, _id_number = self._mpesa_check_payee(
                        entitlement.partner_id, entitlement.initial_amount, entitlement.currency_id
                    )
                except PreflightError as exc:
                    problems.append((entitlement, exc.code, str(exc)))
                    continue
                total += amount
            if progress:
                progress(min(start + const.PREFLIGHT_CHUNK, len(ids)), len(ids))
        short = self._mpesa_float_shortfall(total)
        if short:
            problems.append((entitlements.browse(), const.PREFLIGHT_FLOAT, short))
        return problems, total

    def _mpesa_enqueue(self, payment_ids, eta=None):
        for chunk in split_every(const.SEND_CHUNK_SIZE, payment_ids):
            self.with_delay(
                channel=const.QUEUE_CHANNEL,
                eta=eta,
                description=f"M-Pesa: send {len(chunk)} payments",
                max_retries=0,
            )._mpesa_send_chunk(list(chunk))

    def _mpesa_enqueue_queued(self):
        """Queue again what a stop left behind (payments queued or reserved, not acknowledged)."""
        for rec in self:
            ids = (
                self.env["g2p.payment"]
                .search(
                    [
                        ("mpesa_state", "in", (const.PAY_QUEUED, const.PAY_SUBMITTING)),
                        ("batch_id.cycle_id.program_id", "=", rec.program_id.id),
                    ]
                )
                .ids
            )
            if ids:
                rec._mpesa_enqueue(ids)

    def _mpesa_reserve(self, payments):
        """Give each payment its open request, creating one (a new id) only where it has none."""
        Tx = self.env["g2p.mpesa.transaction"].sudo()
        open_txs = Tx.search([("payment_id", "in", payments.ids), ("state", "in", const.TX_OPEN_STATES)])
        by_payment = {tx.payment_id.id: tx for tx in open_txs}
        to_submit = Tx.browse()
        vals_list = []
        new_id = self._mpesa_wire().new_conversation_id
        for payment in payments:
            tx = by_payment.get(payment.id)
            if tx:
                # Only a request M-Pesa is not known to have is sent again, always with its own id.
                if tx.state == const.TX_RESERVED:
                    to_submit |= tx
                continue
            try:
                msisdn, amount, id_type, id_number = self._mpesa_check_payment(payment)
            except PreflightError as exc:  # the registrant changed since Send was pressed
                self._mpesa_refuse(payment, exc.code, str(exc))
                continue
            vals_list.append(
                {
                    "originator_conversation_id": new_id(),
                    "payment_id": payment.id,
                    "manager_id": self.id,
                    "msisdn": msisdn,
                    "amount": amount,
                    "id_type": id_type,
                    "id_number": id_number,
                }
            )
        if vals_list:
            to_submit |= Tx.create(vals_list)
        self.env["g2p.payment"]._mpesa_write_rows(
            {
                tx.payment_id.id: {
                    "mpesa_state": const.PAY_SUBMITTING,
                    "mpesa_originator_conversation_id": tx.originator_conversation_id,
                    "mpesa_msisdn": tx.msisdn,
                }
                for tx in to_submit
            }
        )
        return to_submit

    def _mpesa_render(self, template, payment):
        values = {
            "program": payment.program_id.name or "",
            "cycle": payment.cycle_id.name or "",
            "payment": payment.name or "",
        }
        try:
            text = (template or "").format(**values)
        except (KeyError, IndexError, ValueError):
            text = template or ""
        return text[:100]

    def _mpesa_request(self, tx):
        payment = tx.payment_id
        remarks = self._mpesa_render(self.remarks_template, payment)
        if len(remarks) < 2:
            remarks = "G2P payment"
        return B2CRequest(
            originator_conversation_id=tx.originator_conversation_id,
            msisdn=tx.msisdn,
            amount=tx.amount,
            remarks=remarks,
            occasion=self._mpesa_render(self.occasion_template, payment),
            result_url=self._mpesa_callback_url("result"),
            timeout_url=self._mpesa_callback_url("timeout"),
            command_id=self.command_id,
            id_type=tx.id_type or None,
            id_number=tx.sudo().id_number or None,
        )

    def _mpesa_submit_many(self, client, requests_):
        """Submit concurrently; HTTP only in the threads, never the ORM. The client takes each
        request's slot from the shortcode's shared rate budget (_mpesa_client)."""

        def submit(req):
            try:
                return client.b2c_submit(req)
            except AuthError:
                raise
            except Exception as exc:
                _logger.exception("M-Pesa submit of %s failed unexpectedly", req.originator_conversation_id)
                return SubmitOutcome(kind=OutcomeKind.UNKNOWN, message=str(exc))

        return self._mpesa_in_parallel(submit, requests_)

    def _mpesa_in_parallel(self, call, items):
        """`call` on every item from up to `concurrency` threads; `call` does HTTP, never the ORM."""
        workers = max(1, min(self.concurrency or 1, len(items)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mpesa") as pool:
            return list(pool.map(call, items))

    def _mpesa_send_chunk(self, payment_ids):
        """Queue job: reserve ids (committed), submit, record acknowledgements."""
        self.ensure_one()
        if not self.sending_enabled or self.sending_blocked_reason:
            _logger.warning("M-Pesa manager %s: not sending %s payments (stopped)", self.id, len(payment_ids))
            return
        payments = self.env["g2p.payment"].browse(payment_ids).exists()
        payments = payments.filtered(
            lambda p: p.mpesa_state in (const.PAY_QUEUED, const.PAY_SUBMITTING) and p.status != "paid"
        )
        if not payments:
            return
        # Locked in the order a result callback locks (the request, then its payment), each by id:
        # a callback for a request of this chunk (sent before a crash) waits instead of
        # deadlocking, and a second delivery of this job is retried whole by Odoo (a
        # serialization conflict, expected: not an error for the log).
        self.env.cr.execute(
            "SELECT id FROM g2p_mpesa_transaction WHERE payment_id IN %s AND state IN %s"
            " ORDER BY id FOR UPDATE",
            [tuple(payments.ids), tuple(const.TX_OPEN_STATES)],
            log_exceptions=False,
        )
        self.env.cr.execute(
            "SELECT id FROM g2p_payment WHERE id IN %s ORDER BY id FOR UPDATE",
            [tuple(payments.ids)],
            log_exceptions=False,
        )
        txs = self._mpesa_reserve(payments)
        if txs:
            txs.flush_recordset(["last_submit_at", "submit_attempts"])
            self.env.cr.execute(  # one statement: through the ORM this was one UPDATE per request
                "UPDATE g2p_mpesa_transaction SET last_submit_at = %s,"
                " submit_attempts = coalesce(submit_attempts, 0) + 1 WHERE id IN %s",
                [fields.Datetime.now(), tuple(txs.ids)],
            )
            txs.invalidate_recordset(["last_submit_at", "submit_attempts"])
        self._mpesa_mark_batches_started(txs.payment_id.batch_id)
        self._mpesa_commit()  # invariant 1: the id is durable before the request leaves

        requests_ = [self._mpesa_request(tx) for tx in txs]
        try:
            with self._mpesa_client() as client:
                outcomes = self._mpesa_submit_many(client, requests_)
        except AuthError as exc:
            self._mpesa_block(_("M-Pesa credentials were refused or unusable: %s") % exc)
            return
        pairs = list(zip(txs.ids, outcomes, strict=True))
        self._mpesa_retrying(lambda: self._mpesa_record_outcomes(pairs))

    def _mpesa_record_outcomes(self, pairs):
        Tx = self.env["g2p.mpesa.transaction"].sudo()
        ids = [tx_id for tx_id, _outcome in pairs]
        # Lock: a result callback may be applying to the same rows right now.
        # A conflict here is retried by _mpesa_retrying: not an error for the log.
        self.env.cr.execute(
            "SELECT id FROM g2p_mpesa_transaction WHERE id IN %s ORDER BY id FOR UPDATE",
            [tuple(ids)],
            log_exceptions=False,
        )
        Tx.browse(ids).invalidate_recordset()
        now = fields.Datetime.now()
        retry, retry_delay = [], 0
        check_at = fields.Datetime.add(now, minutes=self.reconcile_after_minutes)
        accepted = []
        outcomes = dict(pairs)
        # Iterating the recordset prefetches every request's row in one query, not one each.
        for tx in Tx.browse(ids):
            tx_id, outcome = tx.id, outcomes[tx.id]
            if tx.state != const.TX_RESERVED:
                continue  # its result arrived before its acknowledgement: the result wins
            if outcome.kind == OutcomeKind.ACCEPTED:
                accepted.append((tx_id, outcome.conversation_id))
            elif outcome.kind == OutcomeKind.REJECTED:
                tx._mpesa_fail(outcome.code or "REJECTED", outcome.message)
            elif outcome.kind == OutcomeKind.UNKNOWN:
                # Never re-sent under a new id: M-Pesa is asked what became of this one.
                tx._mpesa_set_state(
                    const.TX_UNKNOWN,
                    result_code=outcome.code,
                    result_desc=outcome.message,
                    next_check_at=fields.Datetime.add(now, seconds=30),
                )
            elif tx.submit_attempts >= const.MAX_TRANSIENT_SUBMITS:
                tx._mpesa_set_state(const.TX_UNKNOWN, result_code=outcome.code, result_desc=outcome.message)
            else:
                retry.append(tx.payment_id.id)
                retry_delay = max(retry_delay, outcome.retry_after or 0, 2**tx.submit_attempts)
        self._mpesa_mark_accepted(accepted, check_at)
        self._mpesa_apply_answered_results(outcomes.values())
        if retry:
            _logger.info("M-Pesa: %s transient refusals, retrying in %ss", len(retry), retry_delay)
            self._mpesa_enqueue(retry, eta=min(retry_delay, 300))

    def _mpesa_apply_answered_results(self, outcomes):
        """Results an API gives in the answer to the request itself (the OpenAPI's synchronous
        B2C), applied as a callback's would be, in the same transaction as the acknowledgement."""
        for outcome in outcomes:
            if outcome.kind != OutcomeKind.ACCEPTED or outcome.result is None:
                continue
            try:
                self._mpesa_apply_result(outcome.result)
            except CallbackRefused as exc:
                # Left awaiting its result: a status query settles it, and a person if need be.
                _logger.warning("M-Pesa result in the answer not applied: %s", exc)

    def _mpesa_mark_accepted(self, accepted, check_at):
        """What _mpesa_set_state(TX_ACCEPTED) does, for a whole chunk in two statements.

        Each acknowledgement through the ORM cost a write of the request and one of the payment
        (reading its state first): the larger part of a send job's database time, profiled, and
        held under the rows' lock that result callbacks wait for.
        """
        if not accepted:
            return
        self.env.flush_all()  # pending ORM writes must not land after ours and undo them
        now = fields.Datetime.now()
        uid = self.env.uid
        self.env.cr.execute(
            SQL(
                """
                UPDATE g2p_mpesa_transaction tx
                   SET state = %s, conversation_id = v.conversation_id, next_check_at = %s,
                       write_uid = %s, write_date = %s
                  FROM (VALUES %s) AS v(id, conversation_id)
                 WHERE tx.id = v.id
             RETURNING tx.payment_id
                """,
                const.TX_ACCEPTED,
                check_at,
                uid,
                now,
                SQL(", ").join(
                    SQL("(%s, %s)", tx_id, conversation_id) for tx_id, conversation_id in accepted
                ),
            )
        )
        payment_ids = [row[0] for row in self.env.cr.fetchall()]
        self.env.cr.execute(
            """
            UPDATE g2p_payment
               SET mpesa_state = %s, state = CASE WHEN state = 'issued' THEN 'sent' ELSE state END,
                   write_uid = %s, write_date = %s
             WHERE id = ANY(%s)
            """,
            [const.PAY_ACCEPTED, uid, now, payment_ids],
        )
        tx_fields = ["state", "conversation_id", "next_check_at", "write_uid", "write_date"]
        self.env["g2p.mpesa.transaction"].browse([tx_id for tx_id, _cid in accepted]).invalidate_recordset(
            tx_fields
        )
        payments = self.env["g2p.payment"].browse(payment_ids)
        payments.invalidate_recordset(["mpesa_state", "state", "write_uid", "write_date"])
        payments.cycle_id._mpesa_notify_progress()
