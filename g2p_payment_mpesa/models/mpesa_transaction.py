from odoo import _, fields, models

from mpesa_wire import names_match

from .. import const

# cr.cache key: {request id: (cycle id, registrant's name, receiver check)} read under its lock.
FACTS_KEY = "g2p_payment_mpesa.payment_facts"


class MpesaTransaction(models.Model):
    """One B2C request to M-Pesa, keyed by its OriginatorConversationID.

    A payment has at most one open request (enforced by a partial unique index): a new one is
    made only after M-Pesa has said the previous one failed.
    """

    _name = "g2p.mpesa.transaction"
    _description = "M-Pesa B2C request"
    _order = "id desc"
    _rec_name = "originator_conversation_id"

    originator_conversation_id = fields.Char(
        "OriginatorConversationID", required=True, readonly=True, index=True, copy=False
    )
    payment_id = fields.Many2one("g2p.payment", required=True, readonly=True, index=True, ondelete="restrict")
    manager_id = fields.Many2one(
        "g2p.program.payment.manager.mpesa", required=True, readonly=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one(related="payment_id.partner_id")
    cycle_id = fields.Many2one(related="payment_id.cycle_id")
    msisdn = fields.Char("Number sent to", required=True, readonly=True)
    amount = fields.Integer(required=True, readonly=True, help="In whole units of the market's currency.")
    id_type = fields.Char("ID type sent", readonly=True)
    id_number = fields.Char("ID number sent", readonly=True, groups="base.group_system")
    state = fields.Selection(const.TX_STATES, required=True, default=const.TX_RESERVED, index=True)
    conversation_id = fields.Char("ConversationID", readonly=True, index=True)
    receipt = fields.Char(readonly=True, index=True)
    result_code = fields.Char(readonly=True, index=True)
    result_desc = fields.Char("Result description", readonly=True)
    receiver_name = fields.Char(readonly=True)
    completed_at = fields.Datetime(readonly=True)
    submit_attempts = fields.Integer(readonly=True)
    status_queries = fields.Integer(readonly=True)
    last_submit_at = fields.Datetime(readonly=True)
    next_check_at = fields.Datetime(
        readonly=True, index=True, help="When reconciliation asks M-Pesa for this request's status."
    )

    _sql_constraints = [
        (
            "originator_conversation_id_unique",
            "unique(originator_conversation_id)",
            "An OriginatorConversationID is used once.",
        )
    ]

    def init(self):
        # Invariant 1 at the database level: whatever the code does, a payment cannot have two
        # requests that M-Pesa may still pay (a reversed one paid, and the money came back).
        # Made again where an older version of the addon left the index without 'reversed'.
        self.env.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'g2p_mpesa_transaction_one_open_per_payment'"
        )
        row = self.env.cr.fetchone()
        if row and "reversed" not in row[0]:
            self.env.cr.execute("DROP INDEX g2p_mpesa_transaction_one_open_per_payment")
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS g2p_mpesa_transaction_one_open_per_payment
            ON g2p_mpesa_transaction (payment_id) WHERE state NOT IN ('failed', 'reversed')
            """
        )

    # ------------------------------------------------------------------ state changes
    # Each keeps the payment's OpenG2P fields and its M-Pesa detail in step with the request.
    def _mpesa_set_state(self, state, **vals):
        self.ensure_one()
        self.write(dict(vals, state=state))
        payment_vals = {"mpesa_state": const.TX_TO_PAYMENT_STATE[state]}
        if state in (const.TX_ACCEPTED, const.TX_UNKNOWN) and self.payment_id.state == "issued":
            payment_vals["state"] = "sent"
        if vals.get("result_code"):
            payment_vals["mpesa_result_code"] = vals["result_code"]
            payment_vals["mpesa_result_desc"] = vals.get("result_desc") or ""
        self.payment_id.write(payment_vals)
        self.payment_id.cycle_id._mpesa_notify_progress()

    def _mpesa_pay(self, receipt, amount, completed_at, receiver_name, result_code="0", result_desc=""):
        self.ensure_one()
        now = fields.Datetime.now()
        self.write(
            {
                "state": const.TX_PAID,
                "receipt": receipt,
                "result_code": result_code,
                "result_desc": result_desc,
                "receiver_name": receiver_name,
                "completed_at": completed_at or now,
                "next_check_at": False,
            }
        )
        self.payment_id._mpesa_write_rows(
            {
                self.payment_id.id: {
                    "state": "reconciled",
                    "status": "paid",
                    "status_is_final": True,
                    "status_datetime": now,
                    "amount_paid": float(amount),
                    "payment_datetime": completed_at or now,
                    "mpesa_state": const.PAY_PAID,
                    "mpesa_receipt": receipt,
                    "mpesa_result_code": result_code,
                    "mpesa_result_desc": result_desc,
                    "mpesa_receiver_name": receiver_name,
                }
            }
        )
        cycle_id, registrant, check = self._mpesa_payment_facts()
        if check == "name":
            self._mpesa_check_receiver(registrant, receiver_name)
        self.env["g2p.cycle"].browse(cycle_id)._mpesa_notify_progress()

    def _mpesa_payment_facts(self):
        """(cycle id, registrant's name, the manager's receiver check) in one query: through the
        ORM each result read the whole partner and manager records, which raised Odoo's CPU per
        payment end to end in bench/bench_payments.py from 6.5 to 9.3 ms. A callback has them
        already, read with its lock (_mpesa_lock_tx): used once, then read again."""
        kept = self.env.cr.cache.get(FACTS_KEY, {}).pop(self.id, None)
        if kept:
            return kept
        self._mpesa_flush_payment_facts()
        self.env.cr.execute(
            """
            SELECT pay.cycle_id, partner.name, manager.receiver_check
              FROM g2p_mpesa_transaction tx
              JOIN g2p_payment pay ON pay.id = tx.payment_id
              JOIN g2p_entitlement ent ON ent.id = pay.entitlement_id
              JOIN res_partner partner ON partner.id = ent.partner_id
              JOIN g2p_program_payment_manager_mpesa manager ON manager.id = tx.manager_id
             WHERE tx.id = %s
            """,
            [self.id],
        )
        return self.env.cr.fetchone()

    def _mpesa_keep_payment_facts(self, facts):
        """Facts read under this request's lock, for the _mpesa_payment_facts that follows in
        this transaction (the lock holds the request; nothing else changes them meanwhile)."""
        if facts[0] is not None:
            self.env.cr.cache.setdefault(FACTS_KEY, {})[self.id] = tuple(facts)

    def _mpesa_flush_payment_facts(self):
        self.env["res.partner"].flush_model(["name"])
        self.env["g2p.entitlement"].flush_model(["partner_id"])
        self.env["g2p.payment"].flush_model(["cycle_id", "entitlement_id"])
        self.env["g2p.program.payment.manager.mpesa"].flush_model(["receiver_check"])

    def _mpesa_check_receiver(self, registrant, receiver_name):
        """Invariant 6: a result naming somebody other than the registrant is flagged for review
        with both names (the money has moved; a finance validator decides what to do)."""
        if names_match(registrant, receiver_name) is not False:
            return
        manager = self.manager_id
        self.payment_id.mpesa_receiver_mismatch = True
        reason = _(
            "Paid to %(received)s, but the registrant is %(registrant)s (number %(msisdn)s): a recycled "
            "or mistyped number? Check with the beneficiary; a reversal may be needed."
        ) % {"received": receiver_name, "registrant": registrant, "msisdn": self.msisdn}
        manager.activity_schedule(
            "g2p_payment_mpesa.mail_activity_mpesa_review",
            user_id=(manager.create_uid or self.env.user).id,
            summary=_("M-Pesa payment %s received by someone else?") % self.originator_conversation_id,
            note=reason,
        )

    def _mpesa_fail(self, code, desc):
        """M-Pesa said this request failed: final for the payment (OpenG2P re-pays failed ones)."""
        self.ensure_one()
        self.write(
            {"state": const.TX_FAILED, "result_code": code, "result_desc": desc, "next_check_at": False}
        )
        self.payment_id._mpesa_write_rows(
            {
                self.payment_id.id: {
                    "state": "reconciled",
                    "status": "failed",
                    "status_is_final": True,
                    "status_datetime": fields.Datetime.now(),
                    "amount_paid": 0.0,
                    "mpesa_state": const.PAY_FAILED,
                    "mpesa_result_code": code,
                    "mpesa_result_desc": desc,
                }
            }
        )
        self.env["g2p.cycle"].browse(self._mpesa_payment_facts()[0])._mpesa_notify_progress()

    def _mpesa_paid_again(self):
        """The entitlement's other payments that did not fail: OpenG2P paid it again after this
        request was concluded unpaid (then money M-Pesa moved for this one would be a second
        payment)."""
        self.ensure_one()
        return (
            self.env["g2p.payment"]
            .sudo()
            .search(
                [
                    ("entitlement_id", "=", self.payment_id.entitlement_id.id),
                    ("id", "!=", self.payment_id.id),
                    ("status", "!=", "failed"),
                ]
            )
        )

    def _mpesa_flag_for_review(self, reason):
        self.ensure_one()
        self._mpesa_set_state(const.TX_NEEDS_REVIEW, result_desc=reason, next_check_at=False)
        manager = self.manager_id
        manager.activity_schedule(
            "g2p_payment_mpesa.mail_activity_mpesa_review",
            user_id=(manager.create_uid or self.env.user).id,
            summary=_("M-Pesa payment %s needs review") % self.originator_conversation_id,
            note=reason,
        )
