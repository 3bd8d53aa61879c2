"""Vodacom M-Pesa OpenAPI response codes (``INS-*``): what each means for the request that got it.

Source: the OpenAPI portal's API pages (docs/markets/vodacom-openapi.md, sections 3 to 6), which
give each code with its HTTP status. Mozambique's own API gives some of the same numbers other
meanings (INS-26, INS-993..997), so this table is the OpenAPI family's alone.

How a code is sorted, for a B2C or reversal request:

- **final** (REJECTED): M-Pesa validated the request and refused it; nothing moved, and sending
  the same request again cannot succeed (a bad parameter, an invalid number, a limit, too little
  float). A person decides.
- **unknown** (UNKNOWN): the request may have been processed. INS-9 (request timeout) and INS-1
  (internal error: one SDK issue reports INS-1 on payments that M-Pesa's back office shows as
  failed for insufficient funds, so it says nothing either way) are never failures; neither is
  INS-10 (duplicate: a request under this ThirdPartyConversationID was received before). The
  caller asks with queryTransactionStatus before anything else.
- **session** (INS-6 with HTTP 401, and INS-989): the session or the API key was refused before
  anything was processed; the client opens a new session and tries once more.
"""

from .. import vodacom
from ..vodacom import InsTable

SUCCESS = "INS-0"
TIMEOUT = "INS-9"
DUPLICATE = "INS-10"
NOT_FOUND = "INS-23"
SESSION_FAILED = "INS-989"
TRANSACTION_FAILED = "INS-6"
INSUFFICIENT_BALANCE = "INS-2006"
INVALID_MSISDN = "INS-2051"

DESCRIPTIONS = {
    "INS-0": "Request processed successfully",
    "INS-1": "Internal error: outcome unknown until M-Pesa is asked",
    "INS-6": "Transaction failed (also M-Pesa's answer to an unknown, expired or not yet live session)",
    "INS-9": "Request timeout: outcome unknown until M-Pesa is asked",
    "INS-10": "Duplicate transaction: a request with this ThirdPartyConversationID was received before",
    "INS-13": "Invalid shortcode (ServiceProviderCode) used",
    "INS-15": "Invalid amount used",
    "INS-17": "Invalid TransactionReference (1 to 20 characters)",
    "INS-18": "Invalid TransactionID used",
    "INS-19": "Invalid ThirdPartyReference used",
    "INS-20": "Not all parameters provided",
    "INS-21": "Parameter validations failed",
    "INS-23": "Transaction not found",
    "INS-26": "Invalid currency used",
    "INS-28": "Invalid ThirdPartyConversationID used",
    "INS-30": "Invalid purchased items description",
    "INS-31": "Invalid payment items description",
    "INS-35": "This transaction does not belong to this organisation",
    "INS-989": "Session creation failed: the API key or the public key is wrong",
    "INS-990": "Customer transaction value limit breached",
    "INS-991": "Customer transaction count limit breached",
    "INS-992": "Customer transaction count and value limits breached",
    "INS-993": "Organisation transaction count limit breached",
    "INS-994": "Organisation transaction value limit breached",
    "INS-995": "API single transaction limit breached",
    "INS-996": "Request outside the API's usage time",
    "INS-997": "API not enabled for this application",
    "INS-998": "Invalid market",
    "INS-2006": "Insufficient balance in the organisation's account",
    "INS-2051": "MSISDN invalid: not an M-Pesa customer of this market",
}

# Codes that say nothing about whether the request was processed.
UNKNOWN_CODES = frozenset({"INS-1", TIMEOUT, DUPLICATE, ""})

TABLE = InsTable(
    name="M-Pesa OpenAPI",
    descriptions=DESCRIPTIONS,
    unknown_codes=UNKNOWN_CODES,
    reference_field="output_ThirdPartyConversationID",
    success=SUCCESS,
    duplicate=DUPLICATE,
)
normalise_code = vodacom.normalise_code
describe_code = TABLE.describe
# The final result of a B2C payment (a synchronous answer or an asynchronous callback).
classify_result_code = TABLE.classify_result
classify_reversal_code = TABLE.classify_reversal
