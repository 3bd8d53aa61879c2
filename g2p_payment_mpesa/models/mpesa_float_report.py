"""The organisation's float as M-Pesa reported it: one row per report, never updated.

Every payment result carries the Utility account's balance. Writing it on the manager's row made
results arriving together conflict on that row (PostgreSQL's "could not serialize access due to
concurrent update", logged as an error before Odoo retried). Reports are inserted instead, which
never conflict; the manager shows the newest. The rows are also the float's history.
"""

from odoo import fields, models
from odoo.tools import create_index


class MpesaFloatReport(models.Model):
    _name = "g2p.mpesa.float.report"
    _description = "M-Pesa float report"
    _order = "reported_at desc, id desc"
    _log_access = False

    manager_id = fields.Many2one(
        "g2p.program.payment.manager.mpesa", required=True, readonly=True, index=True, ondelete="cascade"
    )
    reported_at = fields.Datetime(required=True, readonly=True, index=True)
    source = fields.Selection(
        [("result", "Payment result"), ("balance", "Balance query"), ("reversal", "Reversal result")],
        required=True,
        readonly=True,
    )
    # Decimal strings (2 places) as M-Pesa sent them: money is never a float here.
    utility_balance = fields.Char("Utility account", readonly=True)
    working_balance = fields.Char("Working account", readonly=True)

    def _mpesa_insert(self, manager_id, source, utility, working):
        """One report, inserted by SQL: it comes with every payment result, and create() (defaults,
        the user's company read for them) cost a fifth of a result callback's time."""
        self.env.cr.execute(
            "INSERT INTO g2p_mpesa_float_report (manager_id, reported_at, source, utility_balance,"
            " working_balance) VALUES (%s, %s, %s, %s, %s)",
            [manager_id, fields.Datetime.now(), source, utility or None, working or None],
        )

    def init(self):
        # The manager's newest figures without reading its history (one report per result).
        create_index(
            self.env.cr,
            "g2p_mpesa_float_report_newest_index",
            self._table,
            ["manager_id", "reported_at", "id"],
        )
        create_index(
            self.env.cr,
            "g2p_mpesa_float_report_working_index",
            self._table,
            ["manager_id", "reported_at", "id"],
            where="working_balance IS NOT NULL",
        )
