from odoo import fields, models


class BenchCeilingCounter(models.Model):
    _name = "g2p.mpesa.bench.counter"
    _description = "Bench: a row to lock and update"

    name = fields.Char()
    hits = fields.Integer()
