from odoo import fields, models
from odoo.tools import SQL, create_index

from .. import const

# The g2p.payment columns written without the ORM (_mpesa_write_rows). None is an input of a
# stored computed field, so one UPDATE does all that write() would.
_SQL_WRITABLE = frozenset(
    {
        "state",
        "status",
        "status_is_final",
        "status_datetime",
        "amount_paid",
        "payment_datetime",
        "mpesa_state",
        "mpesa_msisdn",
        "mpesa_originator_conversation_id",
        "mpesa_receipt",
        "mpesa_result_code",
        "mpesa_result_desc",
        "mpesa_receiver_name",
    }
)


class G2PPayment(models.Model):
    _inherit = "g2p.payment"

    def init(self):
        # A cycle's payments by M-Pesa state (its progress, the filtered list) without reading a
        # national table: OpenG2P does not index g2p_payment.cycle_id.
        create_index(
            self.env.cr, "g2p_payment_cycle_mpesa_state_index", self._table, ["cycle_id", "mpesa_state"]
        )

    mpesa_transaction_ids = fields.One2many("g2p.mpesa.transaction", "payment_id", "M-Pesa requests")
    mpesa_state = fields.Selection(
        const.PAYMENT_MPESA_STATES, "M-Pesa state", index=True, copy=False, readonly=True
    )
    mpesa_msisdn = fields.Char("M-Pesa number", readonly=True, copy=False)
    # A label that fits the form (the protocol's name broke mid-word there); the name in the help.
    mpesa_originator_conversation_id = fields.Char(
        "M-Pesa request ID",
        readonly=True,
        copy=False,
        index=True,
        help="Our id of the request to M-Pesa (Daraja's OriginatorConversationID, the OpenAPI's "
        "ThirdPartyConversationID, Mozambique's ThirdPartyReference).",
    )
    mpesa_receipt = fields.Char("M-Pesa receipt", readonly=True, copy=False, index=True)
    mpesa_result_code = fields.Char("M-Pesa result code", readonly=True, copy=False, index=True)
    mpesa_result_desc = fields.Char("M-Pesa result", readonly=True, copy=False)
    mpesa_receiver_name = fields.Char("Received by", readonly=True, copy=False)
    mpesa_receiver_mismatch = fields.Boolean(
        "Received by someone else?",
        readonly=True,
        copy=False,
        index=True,
        help="M-Pesa's result names a receiver who is not the registrant (see the name rule in the "
        "README): the money moved, a person must review it.",
    )

    def _mpesa_write_rows(self, rows):
        """Write M-Pesa's outcome on many payments, each its own values, in one statement.

        `rows` maps a payment id to its values, the same keys for every payment, all of them in
        _SQL_WRITABLE. Through the ORM this was one UPDATE per payment (values differ) and, for
        a result, a read of the payment, its journal and currency to round amount_paid: most of
        what pressing Send cost at 10,000 payments, and a third of a result callback's time.
        """
        if not rows:
            return
        columns = sorted(next(iter(rows.values())))
        assert _SQL_WRITABLE.issuperset(columns), set(columns) - _SQL_WRITABLE
        # Pending ORM writes of these columns go first: flushed later, they would overwrite ours.
        self.flush_model(columns)
        self.env.cr.execute(
            SQL(
                "UPDATE g2p_payment p SET %s, write_uid = %s, write_date = %s"
                " FROM (VALUES %s) AS v(id, %s) WHERE p.id = v.id",
                # Cast to the column's type: a VALUES column of NULLs alone would be text.
                SQL(", ").join(
                    SQL(
                        "%s = v.%s::%s",
                        SQL.identifier(c),
                        SQL.identifier(c),
                        SQL(self._fields[c].column_type[1]),
                    )
                    for c in columns
                ),
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
