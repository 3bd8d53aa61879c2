"""Import an M-Pesa organisation statement (CSV or Excel, as the portal exports it)."""

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..models.payment_manager import notify, when_text


class MpesaStatementImport(models.TransientModel):
    _name = "g2p.mpesa.statement.import"
    _description = "Import an M-Pesa statement"

    manager_id = fields.Many2one("g2p.program.payment.manager.mpesa", required=True, readonly=True)
    file = fields.Binary("Statement", required=True, attachment=False)
    filename = fields.Char()

    def action_import(self):
        self.ensure_one()
        if not self.file:
            raise UserError(_("Choose the statement file exported from the M-Pesa portal."))
        summary = self.manager_id.mpesa_import_statement(self.file, self.filename or "")
        statement = self.env["g2p.mpesa.statement"].browse(summary["statement_id"])
        if summary["already_imported"] and summary["queued"]:
            message = _("This file is already being imported: its progress shows on the statement.")
        elif summary["already_imported"]:
            message = _("This file was imported on %s: nothing changed.") % when_text(
                self, statement.create_date
            )
        elif summary["queued"]:
            message = _(
                "A large file: it is being imported in the background, and its progress shows on the "
                "statement."
            )
        else:
            message = _(
                "%(lines)s lines, %(known)s already imported; %(paid)s requests resolved as paid, "
                "%(unpaid)s as not paid, %(reversed)s reversals confirmed; %(discrepancies)s discrepancies."
            ) % {
                "lines": summary["lines"],
                "known": summary["known"],
                "paid": summary["resolved_paid"],
                "unpaid": summary["resolved_unpaid"],
                "reversed": summary["reversed"],
                "discrepancies": summary["discrepancies"],
            }
        kind = "warning" if summary["discrepancies"] else "success"
        return notify(
            _("M-Pesa statement imported"),
            message,
            kind,
            sticky=bool(summary["discrepancies"]),
            then={
                "type": "ir.actions.act_window",
                "name": _("M-Pesa statement"),
                "res_model": "g2p.mpesa.statement",
                "res_id": statement.id,
                "views": [[False, "form"]],
                "target": "current",
            },
        )
