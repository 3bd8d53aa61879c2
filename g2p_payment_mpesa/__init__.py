from . import log_redaction

# Before anything can log a callback URL: the record factory redacts it in every logger.
log_redaction.install()

from . import controllers, models, wizard  # noqa: E402
