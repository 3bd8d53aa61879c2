"""Vodacom Mozambique M-Pesa API response codes (``INS-*``), with Mozambique's own meanings.

Source: docs/markets/vodacom-openapi.md section 6 (the Mozambique developer portal's code table as
copied in MZDOC, and a PHP mapping of it) [M]; the HTTP status of each code is given there but not
relied on: the code decides. INS-26 and INS-993..998 mean other things here than in the
multi-market OpenAPI, so this table is this family's alone.

How a code is sorted, for a B2C or reversal request:

- **final** (REJECTED / FAILED): M-Pesa validated the request and refused it; nothing moved.
- **unknown** (UNKNOWN / TRANSIENT result): INS-1 (internal error: abdulmueid/mpesa-php-api issue
  #13 reports INS-1 and empty codes on payments the back office shows as failed, so it proves
  nothing), INS-9 (timeout), INS-10 (duplicate: a request with this ThirdPartyReference was
  received before), INS-16 (temporary overload), an empty code, a 5xx: asked about with
  queryTransactionStatus before anything else.
- **credentials**: INS-2 (invalid API key), INS-24, INS-25, INS-2001 (initiator): a
  misconfiguration that stops the run (a retry cannot help).
"""

from .. import vodacom
from ..vodacom import InsTable

SUCCESS = "INS-0"
INTERNAL_ERROR = "INS-1"
INVALID_API_KEY = "INS-2"
TIMEOUT = "INS-9"
DUPLICATE = "INS-10"
OVERLOADED = "INS-16"
UNKNOWN_STATUS = "INS-23"
INVALID_INITIATOR = "INS-24"
INVALID_CREDENTIAL = "INS-25"
INITIATOR_AUTH = "INS-2001"
INSUFFICIENT_BALANCE = "INS-2006"
INVALID_MSISDN = "INS-2051"

DESCRIPTIONS = {
    "INS-0": "Request processed successfully",
    "INS-1": "Internal error: outcome unknown until M-Pesa is asked",
    "INS-2": "Invalid API key",
    "INS-4": "User is not active",
    "INS-5": "Transaction cancelled by the customer",
    "INS-6": "Transaction failed",
    "INS-9": "Request timeout: outcome unknown until M-Pesa is asked",
    "INS-10": "Duplicate transaction: a request with this ThirdPartyReference was received before",
    "INS-13": "Invalid shortcode (ServiceProviderCode) used",
    "INS-14": "Invalid reference used",
    "INS-15": "Invalid amount used",
    "INS-16": "Temporary overload: outcome unknown until M-Pesa is asked",
    "INS-17": "Invalid TransactionReference (1 to 20 characters)",
    "INS-18": "Invalid TransactionID used",
    "INS-19": "Invalid ThirdPartyReference used",
    "INS-20": "Not all parameters provided",
    "INS-21": "Parameter validations failed",
    "INS-22": "Invalid operation type",
    "INS-23": "Unknown status: contact M-Pesa support",
    "INS-24": "Invalid InitiatorIdentifier used",
    "INS-25": "Invalid SecurityCredential used",
    "INS-26": "Not authorised",
    "INS-993": "Direct debit missing",
    "INS-994": "Direct debit already exists",
    "INS-995": "The customer's profile has problems",
    "INS-996": "The customer's account is not active",
    "INS-997": "Linking transaction not found",
    "INS-998": "Invalid market",
    "INS-2001": "Initiator authentication error",
    "INS-2002": "Receiver invalid",
    "INS-2006": "Insufficient balance in the organisation's account",
    "INS-2051": "MSISDN invalid: not an M-Pesa customer",
    "INS-2057": "Language code invalid",
}

# Codes that say nothing about whether the request was processed.
UNKNOWN_CODES = frozenset({INTERNAL_ERROR, TIMEOUT, DUPLICATE, OVERLOADED, ""})
# Codes that say the organisation's credentials are wrong: stop, do not retry.
CREDENTIAL_CODES = frozenset({INVALID_API_KEY, INVALID_INITIATOR, INVALID_CREDENTIAL, INITIATOR_AUTH})


TABLE = InsTable(
    name="M-Pesa Mozambique",
    descriptions=DESCRIPTIONS,
    unknown_codes=UNKNOWN_CODES,
    reference_field="output_ThirdPartyReference",
    success=SUCCESS,
    duplicate=DUPLICATE,
)
normalise_code = vodacom.normalise_code
describe_code = TABLE.describe
classify_result_code = TABLE.classify_result
classify_reversal_code = TABLE.classify_reversal
