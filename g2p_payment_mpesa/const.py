"""Fixed values of the M-Pesa payment manager, and how M-Pesa's answers map to OpenG2P's states."""

ENVIRONMENT_URLS = {
    "simulator": "http://127.0.0.1:8090",
    "sandbox": "https://sandbox.safaricom.co.ke",
    "production": "https://api.safaricom.co.ke",
}

# The queue_job channel all M-Pesa traffic goes through: its capacity in the Odoo configuration
# ([queue_job] channels = root:4,root.mpesa:2) is the number of send jobs running at once.
QUEUE_CHANNEL = "root.mpesa"
# The approver's pre-flight reads entitlements this many at a time; over PREFLIGHT_JOB_SIZE of them
# (a national cycle) it runs as a queue job and its dialog shows the progress.
PREFLIGHT_CHUNK = 1000
PREFLIGHT_JOB_SIZE = 20000

# Payments per send job: small enough that a crash re-does little, large enough that the
# per-job overhead (token, commit, statistics) stays small against the HTTP calls.
SEND_CHUNK_SIZE = 100

# Transient submit errors (spike arrest, connection refused) are retried on the same
# OriginatorConversationID with exponential backoff, at most this many times.
MAX_TRANSIENT_SUBMITS = 8
# A 17/26 result ("internal failure", "system busy") failed that request only: the payment is
# submitted again under a new id, at most this many times.
MAX_TRANSIENT_RESULTS = 3

# One M-Pesa request (g2p.mpesa.transaction) goes through these states.
TX_RESERVED = "reserved"  # id committed, request not (known to be) received by M-Pesa
TX_ACCEPTED = "accepted"  # M-Pesa acknowledged it (ResponseCode 0); result pending
TX_UNKNOWN = "unknown"  # timeout, 5xx after sending, duplicate id, queue timeout: ask M-Pesa
TX_PAID = "paid"
TX_FAILED = "failed"
TX_NEEDS_REVIEW = "needs_review"
TX_REVERSED = "reversed"  # paid, then reversed through the Reversal API: the money came back
TX_STATES = [
    (TX_RESERVED, "Reserved"),
    (TX_ACCEPTED, "Accepted by M-Pesa"),
    (TX_UNKNOWN, "Outcome unknown"),
    (TX_PAID, "Paid"),
    (TX_FAILED, "Failed"),
    (TX_NEEDS_REVIEW, "Needs review"),
    (TX_REVERSED, "Reversed"),
]
# States in which M-Pesa may still move money for the request: never start another one then.
TX_OPEN_STATES = (TX_RESERVED, TX_ACCEPTED, TX_UNKNOWN, TX_NEEDS_REVIEW)
TX_FINAL_STATES = (TX_PAID, TX_FAILED, TX_REVERSED)

# What an admin sees on a payment (g2p.payment.mpesa_state).
PAY_QUEUED = "queued"
PAY_SUBMITTING = "submitting"
PAY_ACCEPTED = "accepted"
PAY_UNKNOWN = "unknown"
PAY_PAID = "paid"
PAY_FAILED = "failed"
PAY_NEEDS_REVIEW = "needs_review"
PAY_REVERSED = "reversed"
PAYMENT_MPESA_STATES = [
    (PAY_QUEUED, "Queued"),
    (PAY_SUBMITTING, "Submitting"),
    (PAY_ACCEPTED, "Accepted, awaiting result"),
    (PAY_UNKNOWN, "Outcome unknown, checking"),
    (PAY_PAID, "Paid"),
    (PAY_FAILED, "Failed"),
    (PAY_NEEDS_REVIEW, "Needs review"),
    (PAY_REVERSED, "Reversed"),
]
TX_TO_PAYMENT_STATE = {
    TX_RESERVED: PAY_SUBMITTING,
    TX_ACCEPTED: PAY_ACCEPTED,
    TX_UNKNOWN: PAY_UNKNOWN,
    TX_PAID: PAY_PAID,
    TX_FAILED: PAY_FAILED,
    TX_NEEDS_REVIEW: PAY_NEEDS_REVIEW,
    TX_REVERSED: PAY_REVERSED,
}

# Result codes of our own for payments refused before any money moved (pre-flight).
PREFLIGHT_MSISDN = "G2P_MSISDN"
PREFLIGHT_AMOUNT = "G2P_AMOUNT"
PREFLIGHT_CURRENCY = "G2P_CURRENCY"
PREFLIGHT_ID = "G2P_ID"
PREFLIGHT_FLOAT = "G2P_FLOAT"
# A request a complete M-Pesa statement does not show: concluded not paid by Odoo, not by M-Pesa
# (a later success for it is still proof of payment).
NOT_ON_STATEMENT = "G2P_NOT_ON_STATEMENT"
# Key in the cursor's cache of the (registrant, number) pairs whose payment someone else received
# and was reversed (manager._mpesa_reversed_numbers); dropped when a reversal completes.
REVERSED_NUMBERS_CACHE = "g2p_payment_mpesa.reversed_numbers"

# TransactionStatus values of a status result that mean the money moved.
STATUS_COMPLETED = ("completed",)

# Result code of a wrong SecurityCredential: stop sending before M-Pesa locks the initiator (8006).
CREDENTIAL_RESULT_CODES = ("2001", "8006")

# One reversal request (g2p.mpesa.reversal) goes through these states.
REV_REQUESTED = "requested"  # committed; the job sends it (again after a lost acknowledgement)
REV_ACCEPTED = "accepted"  # M-Pesa acknowledged it; result pending
REV_REVERSED = "reversed"
REV_FAILED = "failed"  # M-Pesa refused it: the payment stays paid
REV_NEEDS_REVIEW = "needs_review"  # e.g. "already reversed" with no success of ours on record
REVERSAL_STATES = [
    (REV_REQUESTED, "Requested"),
    (REV_ACCEPTED, "Accepted by M-Pesa"),
    (REV_REVERSED, "Reversed"),
    (REV_FAILED, "Failed"),
    (REV_NEEDS_REVIEW, "Needs review"),
]
# A payment has at most one reversal in these states (a partial unique index).
REV_OPEN_STATES = (REV_REQUESTED, REV_ACCEPTED, REV_NEEDS_REVIEW)
# The payment's mpesa_result_code once reversed (our own code, as the pre-flight ones).
REVERSED_RESULT_CODE = "G2P_REVERSED"

CURRENCY = "KES"
