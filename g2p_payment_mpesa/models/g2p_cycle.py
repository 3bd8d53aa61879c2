"""The cycle approver's M-Pesa view: what M-Pesa would refuse, before approving (DESIGN.md
invariant 4), and the cycle's live M-Pesa progress."""

import time

from odoo import _, api, fields, models

from .. import const
from .payment_manager import notify

# Entitlements that will become payments once approved.
OPEN_ENTITLEMENT_STATES = ("draft", "pending_validation", "approved")


def _mpesa_manager(program):
    manager = program.get_manager(program.MANAGER_PAYMENT) if program else None
    return manager if manager and manager._name == "g2p.program.payment.manager.mpesa" else None


# The cycle's M-Pesa progress: payment mpesa_state -> the bucket the approver sees.
PROGRESS_BUCKETS = {
    const.PAY_PAID: "paid",
    const.PAY_FAILED: "failed",
    const.PAY_REVERSED: "failed",  # the money came back: failed with nothing paid, as OpenG2P counts it
    const.PAY_NEEDS_REVIEW: "review",
    const.PAY_QUEUED: "in_flight",
    const.PAY_SUBMITTING: "in_flight",
    const.PAY_ACCEPTED: "in_flight",
    const.PAY_UNKNOWN: "in_flight",
}
# The bus channel a cycle's progress is announced on (static/src/js/mpesa_progress.js listens).
PROGRESS_NOTIFICATION = "g2p_payment_mpesa.progress"
ANNOUNCE_SECONDS = 1.0
# (database, cycle id) -> time.monotonic() of this process's last announcement.
_ANNOUNCED_AT = {}


class G2PCycle(models.Model):
    _inherit = "g2p.cycle"

    mpesa_enabled = fields.Boolean(compute="_compute_mpesa_progress")
    # Display only (sums of OpenG2P's amount fields), in the program's currency: the cycle's own
    # currency_id is the company's.
    mpesa_currency_id = fields.Many2one("res.currency", compute="_compute_mpesa_progress")
    mpesa_paid_count = fields.Integer("Paid", compute="_compute_mpesa_progress")
    mpesa_paid_amount = fields.Monetary(
        "Paid amount", compute="_compute_mpesa_progress", currency_field="mpesa_currency_id"
    )
    mpesa_failed_count = fields.Integer("Failed", compute="_compute_mpesa_progress")
    mpesa_failed_amount = fields.Monetary(
        "Failed amount", compute="_compute_mpesa_progress", currency_field="mpesa_currency_id"
    )
    mpesa_in_flight_count = fields.Integer("In flight", compute="_compute_mpesa_progress")
    mpesa_in_flight_amount = fields.Monetary(
        "In flight amount", compute="_compute_mpesa_progress", currency_field="mpesa_currency_id"
    )
    mpesa_review_count = fields.Integer("Needs review", compute="_compute_mpesa_progress")
    mpesa_review_amount = fields.Monetary(
        "Needs review amount", compute="_compute_mpesa_progress", currency_field="mpesa_currency_id"
    )
    mpesa_mismatch_count = fields.Integer("Received by someone else?", compute="_compute_mpesa_progress")
    mpesa_request_count = fields.Integer("M-Pesa requests", compute="_compute_mpesa_progress")
    # Payment batches not sent yet: none left, and Send Payments steps back.
    mpesa_unsent_batch_count = fields.Integer("Batches not sent", compute="_compute_mpesa_progress")

    # OpenG2P's own computes of the cycle form read every entitlement of the cycle through the ORM
    # (a national cycle's 300,000 records, seconds and hundreds of MB for each opening of the
    # form): the same figures asked of PostgreSQL, with the reader's access rules.
    @api.depends("entitlement_ids")
    def _compute_total_amount(self):
        totals = {
            cycle.id: amount
            for cycle, amount in self.env["g2p.entitlement"]._read_group(
                [("cycle_id", "in", self.ids)], ["cycle_id"], ["initial_amount:sum"]
            )
        }
        for cycle in self:
            cycle.total_amount = totals.get(cycle.id, 0.0)

    def _compute_show_approve_entitlement(self):
        Entitlement = self.env["g2p.entitlement"]
        for cycle in self:
            cycle.show_approve_entitlements_button = not Entitlement.search_count(
                [("cycle_id", "=", cycle.id), ("state", "!=", "approved")], limit=1
            )

    def _compute_mpesa_progress(self):
        rows = {}
        if self.ids:
            self.env["g2p.payment"].flush_model(["cycle_id", "mpesa_state", "amount_issued", "amount_paid"])
            self.env.cr.execute(
                """
                SELECT cycle_id, mpesa_state, count(*),
                       coalesce(sum(CASE WHEN mpesa_state = 'paid' THEN amount_paid
                                         ELSE amount_issued END), 0),
                       count(*) FILTER (WHERE mpesa_receiver_mismatch)
                  FROM g2p_payment
                 WHERE cycle_id IN %s AND mpesa_state IS NOT NULL
              GROUP BY cycle_id, mpesa_state
                """,
                [tuple(self.ids)],
            )
            for cycle_id, state, count, amount, mismatched in self.env.cr.fetchall():
                bucket = rows.setdefault(cycle_id, {"mismatch": 0})
                name = PROGRESS_BUCKETS.get(state)
                if name:
                    total = bucket.setdefault(name, [0, 0.0])
                    total[0] += count
                    total[1] += amount
                bucket["mismatch"] += mismatched
            self.env["g2p.mpesa.transaction"].flush_model(["payment_id"])
            self.env.cr.execute(
                "SELECT p.cycle_id, count(*) FROM g2p_mpesa_transaction t JOIN g2p_payment p"
                " ON p.id = t.payment_id WHERE p.cycle_id IN %s GROUP BY p.cycle_id",
                [tuple(self.ids)],
            )
            for cycle_id, count in self.env.cr.fetchall():
                rows.setdefault(cycle_id, {"mismatch": 0})["requests"] = count
            self.env["g2p.payment.batch"].flush_model(["cycle_id", "batch_has_started"])
            self.env.cr.execute(
                "SELECT cycle_id, count(*) FROM g2p_payment_batch WHERE cycle_id IN %s"
                " AND NOT coalesce(batch_has_started, false) GROUP BY cycle_id",
                [tuple(self.ids)],
            )
            for cycle_id, count in self.env.cr.fetchall():
                rows.setdefault(cycle_id, {"mismatch": 0})["unsent"] = count
        for cycle in self:
            row = rows.get(cycle.id, {})
            cycle.mpesa_enabled = bool(_mpesa_manager(cycle.program_id))
            cycle.mpesa_currency_id = cycle.program_id.journal_id.currency_id or cycle.currency_id
            for name in ("paid", "failed", "in_flight", "review"):
                count, amount = row.get(name, (0, 0.0))
                cycle[f"mpesa_{name}_count"] = count
                cycle[f"mpesa_{name}_amount"] = amount
            cycle.mpesa_mismatch_count = row.get("mismatch", 0)
            cycle.mpesa_request_count = row.get("requests", 0)
            cycle.mpesa_unsent_batch_count = row.get("unsent", 0)

    def action_mpesa_requests(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("g2p_payment_mpesa.action_mpesa_transaction")
        action["domain"] = [("payment_id.cycle_id", "=", self.id)]
        action["context"] = {"search_default_grp_state": 1}
        action["name"] = _("M-Pesa requests of %s") % self.name
        return action

    def _mpesa_notify_progress(self, throttled=True):
        """Tell the browsers showing these cycles that their M-Pesa progress changed: at most
        once a second per cycle and process when `throttled` (results come by the hundred)."""
        now = time.monotonic()
        for cycle in self:
            key = (self.env.cr.dbname, cycle.id)
            if throttled and now - _ANNOUNCED_AT.get(key, -ANNOUNCE_SECONDS) < ANNOUNCE_SECONDS:
                continue
            _ANNOUNCED_AT[key] = now
            self.env["bus.bus"]._sendone(
                "broadcast", PROGRESS_NOTIFICATION, {"model": "g2p.cycle", "id": cycle.id}
            )

    def _mpesa_open_entitlements(self):
        return self.env["g2p.entitlement"].search(
            [("cycle_id", "=", self.id), ("state", "in", OPEN_ENTITLEMENT_STATES)]
        )

    def action_mpesa_check_payees(self):
        """Check M-Pesa payees: lists every beneficiary M-Pesa would refuse; changes nothing."""
        self.ensure_one()
        manager = _mpesa_manager(self.program_id)
        if not manager:
            return notify(_("M-Pesa"), _("This program does not pay through M-Pesa."), "warning", then=None)
        return self.env["g2p.mpesa.preflight"]._open(self, manager, self._mpesa_open_entitlements())

    def _mpesa_guard(self, then, entitlements=None):
        """The pre-flight dialog when approving would approve payments M-Pesa refuses, else None.

        OpenG2P's own approval checks speak first: where they would refuse (no approver group, an
        approver outside it, a fund too small for the entitlements), no M-Pesa question is asked
        and OpenG2P answers in its own words. The approver is asked once: entitlements they
        approved anyway are not asked about again."""
        if self.env.context.get("mpesa_preflight_confirmed") or len(self) != 1:
            return None
        manager = _mpesa_manager(self.program_id)
        if not manager:
            return None
        entitlements = self._mpesa_open_entitlements() if entitlements is None else entitlements
        # Asked of PostgreSQL: a national cycle's entitlements are not read into memory for it.
        entitlements = entitlements.search(
            [("id", "in", entitlements.ids), ("mpesa_payees_confirmed", "=", False)]
        )
        if not entitlements or self._mpesa_openg2p_would_refuse(then, entitlements):
            return None
        if len(entitlements) > const.PREFLIGHT_JOB_SIZE:
            # Checked in the background, the dialog at once: it approves once the check is done.
            return self.env["g2p.mpesa.preflight"]._open(self, manager, entitlements, then=then)
        problems, _total = manager._mpesa_preflight(entitlements)
        if not problems:
            return None
        return self.env["g2p.mpesa.preflight"]._open(self, manager, entitlements, then=then)

    def _mpesa_openg2p_would_refuse(self, then, entitlements):
        """Whether OpenG2P's own approval (g2p_programs: the cycle manager's on_state_change, the
        entitlement manager's fund check) would refuse what the approver pressed."""
        program = self.program_id
        cycle_manager = program.get_manager(program.MANAGER_CYCLE)
        if then == "approve":
            if self.state != "to_approve" or not cycle_manager:
                return True  # OpenG2P answers "only 'to approve' cycles" / "no cycle manager"
            group = cycle_manager.sudo().approver_group_id
            if not group or (self.env.uid != 1 and self.env.user not in group.users):
                return True
            if not cycle_manager.auto_approve_entitlements:
                return False  # entitlements are approved later: asked about then
        entitlement_manager = program.get_manager(program.MANAGER_ENTITLEMENT)
        if not entitlement_manager or not hasattr(entitlement_manager, "check_fund_balance"):
            return False
        # The fund is read with raw SQL (as OpenG2P reads it): pending writes first.
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT count(*), coalesce(sum(initial_amount), 0) FROM g2p_entitlement"
            " WHERE id = ANY(%s) AND state IN ('draft', 'pending_validation')",
            [entitlements.ids],
        )
        pending, amount = self.env.cr.fetchone()
        if not pending:
            return False
        return entitlement_manager.check_fund_balance(program.id) < amount

    def approve(self):
        return self._mpesa_guard("approve") or super().approve()

    def validate_entitlement(self):
        return self._mpesa_guard("validate") or super().validate_entitlement()


class G2PEntitlement(models.Model):
    _inherit = "g2p.entitlement"

    mpesa_payees_confirmed = fields.Boolean(
        "M-Pesa check confirmed",
        copy=False,
        readonly=True,
        help="The approver saw what M-Pesa would refuse and approved anyway: not asked again.",
    )

    def approve_entitlement(self):
        cycle = self.cycle_id
        if len(cycle) == 1:
            guard = cycle._mpesa_guard("entitlements", self)
            if guard:
                return guard
        return super().approve_entitlement()
