"""M-Pesa's own record of the organisation's account: imported statements, their lines, and every
difference between them and what this Odoo sent (invariant 7)."""

from odoo import api, fields, models

from .payment_manager import money_text


class Cents(fields.Integer):
    """An amount in cents, stored as a 64-bit integer: a national float passes 2^31 cents (21
    million shillings) long before a national cycle ends, where an Integer column overflows."""

    column_type = ("int8", "int8")


LINE_KINDS = [
    ("payment", "Payment out"),
    ("charge", "Charge"),
    ("reversal", "Reversal"),
    ("float", "Money in"),
    ("other", "Other"),
]
LINE_MATCHES = [
    ("matched", "Matches a paid request"),
    ("resolved", "Resolved a request"),
    ("discrepancy", "Discrepancy"),
    ("fee", "Fee of a request"),
    ("reversal", "Reversal of a request"),
    ("none", "Not a payment"),
]
DISCREPANCY_KINDS = [
    ("no_request", "Money moved with no request in Odoo"),
    ("no_line", "Paid in Odoo, not on the statement"),
    ("amount", "Amount differs"),
    ("number", "Number differs"),
    ("ambiguous", "More than one request could be this line"),
    ("failed_but_paid", "Paid by M-Pesa, failed in Odoo"),
    ("reversal", "Reversal with no reversal request in Odoo"),
]


class MpesaStatement(models.Model):
    """One imported statement file. A file is imported once per manager (by its SHA-256); a line is
    stored once per manager (by its receipt), so overlapping statements change nothing twice."""

    _name = "g2p.mpesa.statement"
    _description = "M-Pesa statement"
    _order = "id desc"

    name = fields.Char("File", required=True, readonly=True)
    manager_id = fields.Many2one(
        "g2p.program.payment.manager.mpesa", required=True, readonly=True, index=True, ondelete="cascade"
    )
    sha256 = fields.Char(required=True, readonly=True, index=True)
    holder = fields.Char("Account holder", readonly=True)
    shortcode = fields.Char(readonly=True)
    account = fields.Char(readonly=True)
    period_from = fields.Datetime(readonly=True)
    period_to = fields.Datetime(readonly=True)
    opening_balance_cents = Cents(readonly=True)
    closing_balance_cents = Cents(readonly=True)
    opening_balance = fields.Char(compute="_compute_money")
    closing_balance = fields.Char(compute="_compute_money")
    complete = fields.Boolean(
        readonly=True,
        help="Opening balance plus money in minus money out equals the closing balance: the file holds "
        "every movement of the period, so a request it does not show was not paid.",
    )
    has_balances = fields.Boolean(
        readonly=True,
        help="Every line of the file has its Balance (the float after it): the report uses them.",
    )
    state = fields.Selection(
        [
            ("queued", "Waiting to be imported"),
            ("importing", "Importing"),
            ("done", "Imported"),
            ("failed", "Not imported"),
        ],
        default="done",
        required=True,
        readonly=True,
        help="A large file (a national cycle's) is imported by a queue job: its progress shows here.",
    )
    attachment_id = fields.Many2one("ir.attachment", "File", readonly=True, ondelete="set null")
    rows_total = fields.Integer("Lines in the file", readonly=True)
    rows_done = fields.Integer("Lines imported", readonly=True)
    progress = fields.Float(compute="_compute_progress", help="Share of the file's lines imported, in %.")
    progress_done = fields.Integer("Lines imported so far", compute="_compute_progress")
    progress_total = fields.Integer("Lines in the file", compute="_compute_progress")
    import_error = fields.Char("Why it was not imported", readonly=True)
    line_ids = fields.One2many("g2p.mpesa.statement.line", "statement_id", readonly=True)
    discrepancy_ids = fields.One2many("g2p.mpesa.discrepancy", "statement_id", readonly=True)
    line_count = fields.Integer(readonly=True)
    known_count = fields.Integer("Lines already imported", readonly=True)
    skipped_count = fields.Integer("Rows not completed", readonly=True)
    resolved_paid_count = fields.Integer("Resolved as paid", readonly=True)
    resolved_unpaid_count = fields.Integer("Resolved as not paid", readonly=True)
    reversed_count = fields.Integer("Reversals confirmed", readonly=True)
    discrepancy_count = fields.Integer(readonly=True)

    _sql_constraints = [
        ("file_once", "unique(manager_id, sha256)", "This statement has already been imported."),
    ]

    @api.depends("rows_done", "rows_total", "state")
    def _compute_progress(self):
        told = self.env["g2p.mpesa.job.progress"]._mpesa_read(self)
        for statement in self:
            if statement.state == "done":
                done, total = statement.rows_done, statement.rows_total
            else:
                done, total = told.get(statement.id, (0, 0))
            statement.progress_done, statement.progress_total = done, total
            statement.progress = (
                100.0 * done / total if total else (100.0 if statement.state == "done" else 0.0)
            )

    @api.depends("opening_balance_cents", "closing_balance_cents")
    def _compute_money(self):
        for statement in self:
            currency = statement.manager_id._mpesa_market().currency
            statement.opening_balance = money_text(statement.opening_balance_cents, currency)
            statement.closing_balance = money_text(statement.closing_balance_cents, currency)


class MpesaStatementLine(models.Model):
    _name = "g2p.mpesa.statement.line"
    _description = "M-Pesa statement line"
    _order = "completed_at desc, id desc"
    _rec_name = "receipt"

    statement_id = fields.Many2one("g2p.mpesa.statement", required=True, index=True, ondelete="cascade")
    manager_id = fields.Many2one(
        "g2p.program.payment.manager.mpesa", required=True, index=True, ondelete="cascade"
    )
    row = fields.Integer("Row in file")
    receipt = fields.Char(required=True, index=True)
    completed_at = fields.Datetime()
    initiated_at = fields.Datetime()
    details = fields.Char()
    kind = fields.Selection(LINE_KINDS, required=True)
    paid_in_cents = Cents()
    withdrawn_cents = Cents()
    balance_cents = Cents()
    paid_in = fields.Char(compute="_compute_money")
    withdrawn = fields.Char(compute="_compute_money")
    reason_type = fields.Char()
    other_party = fields.Char("Other party")
    msisdn = fields.Char("Number")
    party_name = fields.Char("Name")
    linked_receipt = fields.Char("Linked transaction", index=True)
    transaction_id = fields.Many2one("g2p.mpesa.transaction", "Request", index=True, ondelete="set null")
    cycle_id = fields.Many2one("g2p.cycle", index=True, ondelete="set null")
    match = fields.Selection(LINE_MATCHES, required=True, default="none")

    _sql_constraints = [
        ("receipt_once", "unique(manager_id, receipt)", "A receipt is on one statement line per manager."),
    ]

    @api.depends("paid_in_cents", "withdrawn_cents")
    def _compute_money(self):
        for line in self:
            currency = line.manager_id._mpesa_market().currency
            line.paid_in = money_text(line.paid_in_cents, currency) if line.paid_in_cents else ""
            line.withdrawn = money_text(line.withdrawn_cents, currency) if line.withdrawn_cents else ""


class MpesaDiscrepancy(models.Model):
    _name = "g2p.mpesa.discrepancy"
    _description = "Difference between M-Pesa's statement and Odoo"
    _order = "id"

    statement_id = fields.Many2one("g2p.mpesa.statement", required=True, index=True, ondelete="cascade")
    manager_id = fields.Many2one(
        "g2p.program.payment.manager.mpesa", required=True, index=True, ondelete="cascade"
    )
    kind = fields.Selection(DISCREPANCY_KINDS, required=True)
    line_id = fields.Many2one("g2p.mpesa.statement.line", ondelete="cascade")
    transaction_id = fields.Many2one("g2p.mpesa.transaction", "Request", ondelete="set null")
    payment_id = fields.Many2one("g2p.payment", ondelete="set null")
    cycle_id = fields.Many2one("g2p.cycle", index=True, ondelete="set null")
    receipt = fields.Char()
    amount_cents = Cents()
    amount = fields.Char(compute="_compute_amount")
    description = fields.Char(required=True)

    @api.depends("amount_cents")
    def _compute_amount(self):
        for record in self:
            currency = record.manager_id._mpesa_market().currency
            record.amount = money_text(record.amount_cents, currency) if record.amount_cents else ""
