"""What M-Pesa posts back: results, queue timeouts, status results, balances."""

import ipaddress
import logging
import time
from decimal import Decimal

from odoo import _, fields, models

from mpesa_wire import ResultClass, msisdn_matches

from .. import const
from .g2p_cycle import PROGRESS_NOTIFICATION

_logger = logging.getLogger(__name__)

# An open manager form is told of a result's float at most this often per process (it looks
# once more a moment after the last: static/src/js/mpesa_progress.js).
FLOAT_ANNOUNCE_SECONDS = 1.0
# (database, manager id) -> time.monotonic() of this process's last float announcement.
_FLOAT_ANNOUNCED_AT = {}


class CallbackRefused(Exception):
    """A callback that must not be applied; the reason is logged, never sent back."""


class G2PPaymentManagerMpesaResults(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    def _mpesa_ip_allowed(self, address):
        self.ensure_one()
        if not self.callback_ip_allowlist:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        for item in self.callback_ip_allowlist.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                if ip in ipaddress.ip_network(item, strict=False):
                    return True
            except ValueError:
                _logger.warning("M-Pesa manager %s: ignoring bad allowlist entry %r", self.id, item)
        return False

    def _mpesa_handle_callback(self, kind, body, ocid=None):
        self.ensure_one()
        handlers = {
            "result": self._mpesa_on_result,
            "timeout": self._mpesa_on_timeout,
            "status": self._mpesa_on_status,
            "balance": self._mpesa_on_balance,
        }
        if kind == "status":
            return self._mpesa_on_status(body, ocid)
        return handlers[kind](body)

    def _mpesa_lock_tx(self, ocid):
        if not ocid:
            raise CallbackRefused("no OriginatorConversationID")
        Tx = self.env["g2p.mpesa.transaction"].sudo()
        Tx.flush_model(["originator_conversation_id", "manager_id"])
        Tx._mpesa_flush_payment_facts()
        # Found and locked in one statement, with what applying a result reads of its payment
        # (MpesaTransaction._mpesa_payment_facts): a callback costs two round trips less.
        self.env.cr.execute(
            """
            SELECT tx.id, pay.cycle_id, partner.name, manager.receiver_check
              FROM g2p_mpesa_transaction tx
              LEFT JOIN g2p_payment pay ON pay.id = tx.payment_id
              LEFT JOIN g2p_entitlement ent ON ent.id = pay.entitlement_id
              LEFT JOIN res_partner partner ON partner.id = ent.partner_id
              LEFT JOIN g2p_program_payment_manager_mpesa manager ON manager.id = tx.manager_id
             WHERE tx.originator_conversation_id = %s AND tx.manager_id = %s
             ORDER BY tx.id DESC LIMIT 1 FOR UPDATE OF tx
            """,
            [ocid, self.id],
            # A concurrent result or acknowledgement makes this a serialization failure that
            # Odoo retries (the whole request): expected, so not logged as a "bad query" error.
            log_exceptions=False,
        )
        row = self.env.cr.fetchone()
        if not row:
            raise CallbackRefused(f"unknown OriginatorConversationID {ocid}")
        tx = Tx.browse(row[0])
        tx._mpesa_keep_payment_facts(row[1:])
        tx.invalidate_recordset()
        return tx

    def _mpesa_check_match(self, tx, amount, msisdn):
        """A success is applied only to the payment it belongs to: same amount, same number.
        Returns the amount paid."""
        if amount is None and not self._mpesa_wire().results_carry_amount:
            # The API's results name no amount (the OpenAPI's): M-Pesa confirms the request made
            # under our own id, which named this amount.
            amount = tx.amount
        if amount is None or Decimal(amount) != Decimal(tx.amount):
            raise CallbackRefused(
                f"amount {amount} does not match {self._mpesa_market().currency} {tx.amount} sent for "
                f"{tx.originator_conversation_id}"
            )
        if msisdn and not msisdn_matches(msisdn, tx.msisdn, self._mpesa_market().number_plan):
            raise CallbackRefused(
                f"number {msisdn} does not match the number sent for {tx.originator_conversation_id}"
            )
        return amount

    def _mpesa_late_success(self, tx, result, amount):
        """A success for a request a statement had concluded unpaid: paid, unless OpenG2P has
        already made another payment for the entitlement (then a person decides: paid twice?)."""
        again = tx._mpesa_paid_again()[:1]
        if again:
            tx.write({"receipt": result.receipt, "receiver_name": result.receiver_name})
            tx._mpesa_flag_for_review(
                _(
                    "M-Pesa paid %(ocid)s (receipt %(receipt)s) after a statement had shown it unpaid, and "
                    "the entitlement has another payment %(other)s: paid twice? Hold or reverse one."
                )
                % {"ocid": tx.originator_conversation_id, "receipt": result.receipt, "other": again.name}
            )
            return "late success, flagged"
        tx._mpesa_pay(
            receipt=result.receipt,
            amount=amount,
            completed_at=result.completed_at,
            receiver_name=result.receiver_name,
            result_code=result.result_code,
            result_desc=result.result_desc,
        )
        return "late success, paid"

    def _mpesa_on_result(self, body):
        return self._mpesa_apply_result(self._mpesa_wire().parse_result(body))

    def _mpesa_apply_result(self, result):
        """A B2C result, from a callback or given in the answer to the request itself."""
        tx = self._mpesa_lock_tx(result.originator_conversation_id)
        if tx.conversation_id and result.conversation_id and tx.conversation_id != result.conversation_id:
            raise CallbackRefused(
                f"ConversationID {result.conversation_id} is not the one M-Pesa acknowledged"
            )
        if tx.state == const.TX_FAILED and tx.result_code == const.NOT_ON_STATEMENT and result.is_success:
            # Odoo, not M-Pesa, concluded it unpaid from a statement: M-Pesa's success is proof.
            amount = self._mpesa_check_match(tx, result.amount, result.receiver_msisdn)
            return self._mpesa_late_success(tx, result, amount)
        if tx.state in const.TX_FINAL_STATES:
            paid = tx.state in (const.TX_PAID, const.TX_REVERSED)  # a reversed request was paid first
            same = (paid and result.is_success and result.receipt == tx.receipt) or (
                tx.state == const.TX_FAILED and not result.is_success and result.result_code == tx.result_code
            )
            if same:
                return "duplicate"
            raise CallbackRefused(
                f"a different result for {tx.originator_conversation_id}, already {tx.state}"
            )
        if result.is_success:
            amount = self._mpesa_check_match(tx, result.amount, result.receiver_msisdn)
            tx._mpesa_pay(
                receipt=result.receipt,
                amount=amount,
                completed_at=result.completed_at,
                receiver_name=result.receiver_name,
                result_code=result.result_code,
                result_desc=result.result_desc,
            )
            if result.utility_funds is not None:
                # Every result's: a float recorded at most every few seconds stayed a burst behind
                # (the last results of a cycle were not recorded, nor the reversals after them).
                self._mpesa_store_float(result.utility_funds, result.working_funds, source="result")
        else:
            self._mpesa_apply_failure(tx, result.result_code, result.result_desc)
        return "applied"

    def _mpesa_apply_failure(self, tx, code, desc):
        if self._mpesa_wire().classify_result_code(code) == ResultClass.TRANSIENT:
            earlier = (
                self.env["g2p.mpesa.transaction"]
                .sudo()
                .search_count([("payment_id", "=", tx.payment_id.id), ("state", "=", const.TX_FAILED)])
            )
            if earlier < const.MAX_TRANSIENT_RESULTS:
                # M-Pesa said this request failed and moved no money: the payment goes again,
                # under a new id (the old one would be refused as a duplicate).
                tx.write(
                    {
                        "state": const.TX_FAILED,
                        "result_code": code,
                        "result_desc": desc,
                        "next_check_at": False,
                    }
                )
                tx.payment_id.write(
                    {"mpesa_state": const.PAY_QUEUED, "mpesa_result_code": code, "mpesa_result_desc": desc}
                )
                self._mpesa_enqueue([tx.payment_id.id], eta=30)
                return
        tx._mpesa_fail(code, desc)
        if code in const.CREDENTIAL_RESULT_CODES:
            self._mpesa_block(
                _("M-Pesa refused the initiator credential (result %(code)s: %(desc)s).")
                % {
                    "code": code,
                    "desc": desc,
                }
            )

    def _mpesa_on_timeout(self, body):
        notice = self._mpesa_wire().parse_queue_timeout(body)
        tx = self._mpesa_lock_tx(notice.originator_conversation_id)
        if tx.state in (const.TX_RESERVED, const.TX_ACCEPTED):
            # Not a failure: M-Pesa may still have paid. Ask it soon.
            tx._mpesa_set_state(
                const.TX_UNKNOWN,
                result_code="QUEUE_TIMEOUT",
                result_desc=_("M-Pesa reported a queue timeout: checking the outcome."),
                next_check_at=fields.Datetime.now(),
            )
            return "applied"
        return "ignored"

    def _mpesa_on_status(self, body, ocid=None):
        return self._mpesa_apply_status(self._mpesa_wire().parse_status_result(body), ocid)

    def _mpesa_apply_status(self, result, ocid=None):
        """A status query's answer, from a callback or given in the response to the query."""
        tx = self._mpesa_lock_tx(ocid or result.original_conversation_id)
        if tx.state in const.TX_FINAL_STATES:
            return "ignored"
        code = result.result_code
        if result.not_found:
            # M-Pesa never received it: send it again under the same id (a duplicate is refused).
            tx._mpesa_set_state(const.TX_RESERVED, next_check_at=False)
            self._mpesa_enqueue([tx.payment_id.id])
            return "resubmitted"
        if not result.transaction_found:
            # The query failed (credential, busy...), not the payment: ask again later.
            _logger.warning(
                "M-Pesa status query for %s answered %s: %s",
                tx.originator_conversation_id,
                code,
                result.result_desc,
            )
            return "query failed"
        if not result.is_success:
            self._mpesa_apply_failure(tx, code, result.result_desc)
            return "applied"
        status = (result.status or "").strip().lower()
        if status in const.STATUS_COMPLETED:
            if not result.receipt and self._mpesa_wire().status_names_receipt:
                # This API's completed status always names the receipt: one without is not M-Pesa's.
                raise CallbackRefused(
                    f"a completed status for {tx.originator_conversation_id} without a receipt"
                )
            if tx.receipt and result.receipt and result.receipt != tx.receipt:
                raise CallbackRefused(f"receipt {result.receipt} differs from {tx.receipt}")
            amount = self._mpesa_check_match(tx, result.amount, None)
            tx._mpesa_pay(
                receipt=result.receipt or tx.receipt,
                amount=amount,
                completed_at=result.finalised_at,
                receiver_name=(result.credit_party_name or "").split(" - ", 1)[-1] or None,
                result_code=result.result_code,
                result_desc=_("Confirmed by a status query.")
                if result.receipt or tx.receipt
                else _(
                    "Completed according to M-Pesa's status answer, which names no receipt (Vodacom "
                    "Mozambique's): it cannot be reversed from Odoo."
                ),
            )
            return "applied"
        if status in ("failed", "declined", "cancelled", "expired"):
            tx._mpesa_fail(f"STATUS_{status.upper()}", result.result_desc or status)
            return "applied"
        return "pending"

    def _mpesa_on_balance(self, body):
        result = self._mpesa_wire().parse_balance_result(body)
        if not result.is_success:
            raise CallbackRefused(f"balance query failed: {result.result_code} {result.result_desc}")
        utility = result.accounts.get("Utility Account")
        working = result.accounts.get("Working Account")
        self._mpesa_store_float(
            utility.available if utility else None, working.available if working else None, source="balance"
        )
        return "applied"

    def _mpesa_store_float(self, utility, working, source):
        """Insert a float report: concurrent results never contend on the manager's row. An open
        form of the manager shows it at once (the bus, static/src/js/mpesa_progress.js)."""

        def money(value):
            return str(Decimal(value).quantize(Decimal("0.01"))) if value is not None else False

        self.env["g2p.mpesa.float.report"]._mpesa_insert(self.id, source, money(utility), money(working))
        self.invalidate_recordset(
            [
                "float_utility_balance",
                "float_working_balance",
                "float_checked_at",
                "float_utility_display",
                "float_working_display",
            ]
        )
        key, now = (self.env.cr.dbname, self.id), time.monotonic()
        if (
            source != "result"
            or now - _FLOAT_ANNOUNCED_AT.get(key, -FLOAT_ANNOUNCE_SECONDS) >= FLOAT_ANNOUNCE_SECONDS
        ):
            _FLOAT_ANNOUNCED_AT[key] = now
            self.env["bus.bus"]._sendone(
                "broadcast", PROGRESS_NOTIFICATION, {"model": self._name, "id": self.id}
            )
