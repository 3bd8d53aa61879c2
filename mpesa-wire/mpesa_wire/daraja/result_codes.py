"""What a Daraja B2C or Reversal ResultCode means for the payment it belongs to."""

from ..outcomes import ResultClass, ReversalClass

_TRANSIENT_CODES = frozenset({"17", "26"})

_DESCRIPTIONS = {
    "0": "Paid: the service request was processed successfully",
    "1": "Insufficient funds in the organisation's Utility account",
    "2": "Amount below the minimum M-Pesa allows per transaction",
    "3": "Amount above the maximum M-Pesa allows per transaction",
    "4": "The recipient would exceed their daily transfer limit",
    "8": "The recipient's wallet would exceed its maximum balance",
    "11": "The paying account (debit party) is in an invalid state",
    "15": "M-Pesa detected a duplicate transaction",
    "17": "M-Pesa internal failure (temporary)",
    "21": "The initiator is not allowed to make this payment",
    "26": "M-Pesa system busy (temporary)",
    "1032": "The request was cancelled",
    "1037": "The request timed out in M-Pesa's queue: outcome unknown",
    "2001": "Initiator information invalid: wrong initiator name, password or certificate",
    "2006": "The account status does not allow this transaction",
    "2028": "The shortcode is not allowed to make B2C payments",
    "2032": "Transaction status: no transaction with this receipt",
    "2033": "Transaction status: no transaction with this OriginatorConversationID",
    "2040": "The recipient is not a registered M-Pesa customer",
    "8006": "The initiator's security credential is locked",
    "SFC_IC0003": "The recipient's phone number is not valid for M-Pesa",
    "R002": "The recipient's ID type does not match their M-Pesa registration",
    "R003": "The recipient's ID number does not match their M-Pesa registration",
}


def normalise_result_code(code) -> str:
    """ResultCode as M-Pesa's string (it arrives as a JSON number or a string)."""
    if isinstance(code, bool) or code is None:
        raise ValueError(f"Not a ResultCode: {code!r}")
    if isinstance(code, float):
        if not code.is_integer():
            raise ValueError(f"Not a ResultCode: {code!r}")
        code = int(code)
    return str(code).strip()


def classify_result_code(code) -> ResultClass:
    code = normalise_result_code(code)
    if code == "0":
        return ResultClass.PAID
    if code in _TRANSIENT_CODES:
        return ResultClass.TRANSIENT
    return ResultClass.FAILED


def describe_result_code(code) -> str:
    code = normalise_result_code(code)
    return _DESCRIPTIONS.get(code, f"M-Pesa result code {code}")


# --- Transaction Reversal ----------------------------------------------------------------------


REVERSAL_ALREADY_REVERSED = "R000001"
REVERSAL_INVALID_ORIGINAL = "R000002"

_REVERSAL_DESCRIPTIONS = {
    "0": "Reversed: the money is back in the organisation's Utility account",
    "1": "The balance is insufficient: the recipient's wallet holds less than the amount to reverse",
    "11": "The debit party is in an invalid state",
    "17": "M-Pesa internal failure (temporary)",
    "21": "The initiator is not allowed to reverse (it needs the Org Reversals Initiator role)",
    "26": "M-Pesa system busy (temporary)",
    "2001": "Initiator information invalid: wrong initiator name, password or certificate",
    "2006": "Declined due to account rule (e.g. the amount differs from the original's)",
    "2028": "Not permitted according to the shortcode's product assignment",
    "8006": "The initiator's security credential is locked",
    REVERSAL_ALREADY_REVERSED: "The transaction has already been reversed",
    REVERSAL_INVALID_ORIGINAL: "The original transaction ID is invalid (unknown, not this organisation's, "
    "or not reversible)",
}


def classify_reversal_code(code) -> ReversalClass:
    code = normalise_result_code(code)
    if code == "0":
        return ReversalClass.REVERSED
    if code == REVERSAL_ALREADY_REVERSED:
        return ReversalClass.ALREADY_REVERSED
    if code in _TRANSIENT_CODES:
        return ReversalClass.TRANSIENT
    return ReversalClass.FAILED


def describe_reversal_code(code) -> str:
    code = normalise_result_code(code)
    return _REVERSAL_DESCRIPTIONS.get(code, f"M-Pesa reversal result code {code}")
