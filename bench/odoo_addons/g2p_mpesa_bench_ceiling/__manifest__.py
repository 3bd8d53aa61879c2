{  # noqa: B018  (an Odoo manifest is a bare dict)
    "name": "M-Pesa bench: callback cost floor (bench only, never install in production)",
    "summary": "A route that locks and updates one row: the least work one M-Pesa result callback does",
    "category": "Hidden",
    "version": "17.0.1.0.0",
    "author": "g2p_payment_mpesa contributors",
    "license": "LGPL-3",
    "depends": ["base"],
    "data": ["security/ir.model.access.csv"],
    "installable": True,
}
