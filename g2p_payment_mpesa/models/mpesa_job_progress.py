"""How far a background job (a national statement import, a national pre-flight) has got.

A job applies all its work in its own transaction, committed at its end. Its progress must be
seen before that, so it is written by another cursor and committed at once, into this table and
never into the job's own records: a row written by both would make the job's final write a
serialization conflict (REPEATABLE READ), and Odoo would run the whole job again, for ever.
"""

from odoo import api, fields, models


class MpesaJobProgress(models.Model):
    _name = "g2p.mpesa.job.progress"
    _description = "Progress of an M-Pesa background job"
    _log_access = False

    res_model = fields.Char(required=True, readonly=True)
    res_id = fields.Integer(required=True, readonly=True)
    done = fields.Integer(readonly=True)
    total = fields.Integer(readonly=True)

    _sql_constraints = [("one_per_record", "unique(res_model, res_id)", "One progress row per record.")]

    @api.model
    def _mpesa_tell(self, record, done, total):
        """Record that the job working on `record` has done `done` of `total`, visible at once."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "INSERT INTO g2p_mpesa_job_progress (res_model, res_id, done, total) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (res_model, res_id) DO UPDATE SET done = EXCLUDED.done, total = EXCLUDED.total",
                [record._name, record.id, done, total],
            )

    @api.model
    def _mpesa_read(self, records):
        """{record id: (done, total)} of what the jobs on these records said so far."""
        if not records.ids:
            return {}
        self.env.cr.execute(
            "SELECT res_id, done, total FROM g2p_mpesa_job_progress"
            " WHERE res_model = %s AND res_id = ANY(%s)",
            [records._name, records.ids],
        )
        return {res_id: (done, total) for res_id, done, total in self.env.cr.fetchall()}
