from . import main  # noqa: F401  (imported for their side effects, as Odoo does)
