from odoo import fields, models
from odoo.tools import SQL

from .. import const


class G2PPayment(models.Model):
    _inherit = "g2p.payment"

    mpesa_transaction_ids = fields.One2many("g2p.mpesa.transaction", "payment_id", "M-Pesa requests")
    mpesa_state = fields.Selection(
        const.PAYMENT_MPESA_STATES, "M-Pesa state", index=True, copy=False, readonly=True
    )
    mpesa_msisdn = fields.Char("M-Pesa number", readonly=True, copy=False)
    mpesa_originator_conversation_id = fields.Char(
        "OriginatorConversationID", readonly=True, copy=False, index=True
    )
    mpesa_receipt = fields.Char("M-Pesa receipt", readonly=True, copy=False, index=True)
    mpesa_result_code = fields.Char("M-Pesa result code", readonly=True, copy=False, index=True)
    mpesa_result_desc = fields.Char("M-Pesa result", readonly=True, copy=False)
    mpesa_receiver_name = fields.Char("Received by", readonly=True, copy=False)

    def _mpesa_write_rows(self, rows):
        """Write our own M-Pesa columns of many payments, each its own values, in one statement.

        `rows` maps a payment id to its values, the same keys for every payment. The ORM would
        issue one UPDATE per payment (values differ): profiled, that was most of what pressing
        Send cost at 10,000 payments. Only mpesa_* columns are allowed: no OpenG2P computation
        depends on them, so skipping the ORM's write skips nothing.
        """
        if not rows:
            return
        columns = sorted(next(iter(rows.values())))
        assert all(name.startswith("mpesa_") and name in self._fields for name in columns), columns
        self.flush_model(columns)
        self.env.cr.execute(
            SQL(
                "UPDATE g2p_payment p SET %s, write_uid = %s, write_date = %s"
                " FROM (VALUES %s) AS v(id, %s) WHERE p.id = v.id",
                SQL(", ").join(SQL("%s = v.%s", SQL.identifier(c), SQL.identifier(c)) for c in columns),
                self.env.uid,
                fields.Datetime.now(),
                SQL(", ").join(
                    SQL("(%s, %s)", payment_id, SQL(", ").join(SQL("%s", vals[c]) for c in columns))
                    for payment_id, vals in rows.items()
                ),
                SQL(", ").join(SQL.identifier(c) for c in columns),
            )
        )
        self.browse(list(rows)).invalidate_recordset([*columns, "write_uid", "write_date"])
