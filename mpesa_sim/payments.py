"""Daraja business rules: request validation, B2C and reversal processing, status and balance results.

Validation happens in the request (synchronous 400s); everything else happens in the
background processor, which decides the ResultCode from the real condition (float, limits,
registration, KYC, credential) and moves the money in one write transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import TYPE_CHECKING, Any

from mpesa_sim import directory, families, ledger, markets, receipts, sms
from mpesa_sim.shared import B2C_COMMANDS, mark_silent, recipient_limit_breach

if TYPE_CHECKING:
    from mpesa_sim.state import Simulator

ACCEPTED = "Accept the service request successfully."
SUCCESS_DESC = "The service request is processed successfully."
RESULT_DESCRIPTIONS = {
    "1": "The balance is insufficient for the transaction.",
    "2": "Declined due to limit rule: less than the smallest transaction amount.",
    "3": "Declined due to limit rule: greater than the maximum transaction amount.",
    "4": "Declined due to limit rule: would exceed the maximum daily transfer limit.",
    "8": "Declined due to limit rule: would exceed the maximum balance.",
    "17": "Internal failure, please try again.",
    "21": "The initiator is not allowed to initiate this request.",
    "26": "System busy. The service request is rejected.",
    "1037": "The request timed out in the queue.",
    "2001": "The initiator information is invalid.",
    "2006": "Declined due to account rule: The account status does not allow this transaction.",
    "2032": "The transaction receipt number does not exist.",
    "2033": "The transaction could not be found by the given OriginatorConversationID.",
    "2040": "Credit Party customer type (Unregistered or Registered Customer)"
    " can't be supported by the service.",
    "8006": "The security credential is locked.",
    "SFC_IC0003": "The operator does not exist.",
    "R002": "Validation failed: the ID type does not match the recipient's registration.",
    "R003": "Validation failed: the ID number does not match the recipient's registration.",
    "R000001": "The transaction has already been reversed",
    "R000002": "The OriginalTransactionID is invalid",
}
# The Reversal API's own wording of shared codes (Safaricom's Reversal page).
REVERSAL_DESCRIPTIONS = {
    **RESULT_DESCRIPTIONS,
    "1": "The balance is insufficient",
    "2006": "Declined due to account rule",
}
REVERSAL_IDENTIFIER_TYPES = ("11", "4")  # "11" in today's docs, "4" in Safaricom's older samples


class DarajaError(Exception):
    """A synchronous error answer: HTTP status and Daraja's errorCode/errorMessage."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(field: str) -> DarajaError:
    return DarajaError(400, "400.002.02", f"Bad Request - Invalid {field}")


def result_code_value(code: str) -> int | str:
    """ResultCode as M-Pesa sends it: a number when numeric, else the string (SFC_IC0003, R002)."""
    return int(code) if code.isdigit() else code


# -- synchronous validation ---------------------------------------------------------------------
def _text(body: dict, field: str, min_len: int = 1, max_len: int = 100, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise bad(field)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad(field)
    value = str(value)
    if not min_len <= len(value) <= max_len:
        raise bad(field)
    return value


def _digits(body: dict, field: str, min_len: int, max_len: int) -> str:
    value = _text(body, field, min_len, max_len)
    if not value.isascii() or not value.isdigit():
        raise bad(field)
    return value


def _url(body: dict, field: str) -> str:
    value = _text(body, field, 8, 500)
    if not re.match(r"^https?://[^\s/?#]+[^\s]*$", value):
        raise bad(field)
    return value


def _amount(body: dict) -> int:
    """Whole shillings, as a JSON number or numeric string; fractions are refused."""
    value = body.get("Amount")
    if isinstance(value, bool) or value is None:
        raise bad("Amount")
    if isinstance(value, int):
        shillings = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise bad("Amount")
        shillings = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\d{1,13}(\.0{1,2})?", value.strip()):
        shillings = int(value.strip().split(".")[0])
    else:
        raise bad("Amount")
    if not 0 <= shillings < 10**12:
        raise bad("Amount")
    return shillings


def validate_b2c(body: Any, api: str, shortcode_digits: tuple[int, int] = (5, 7)) -> dict:
    if not isinstance(body, dict):
        raise bad("Request")
    req: dict[str, Any] = {}
    if api != "b2c_v1":
        req["OriginatorConversationID"] = _text(body, "OriginatorConversationID", 1, 128)
    req["InitiatorName"] = _text(body, "InitiatorName", 1, 100)
    req["SecurityCredential"] = _text(body, "SecurityCredential", 1, 2048)
    req["CommandID"] = _text(body, "CommandID")
    if req["CommandID"] not in B2C_COMMANDS:
        raise bad("CommandID")
    req["Amount"] = _amount(body)
    req["PartyA"] = _digits(body, "PartyA", *shortcode_digits)
    req["PartyB"] = _digits(body, "PartyB", 9, 15)
    req["Remarks"] = _text(body, "Remarks", 2, 100)
    req["QueueTimeOutURL"] = _url(body, "QueueTimeOutURL")
    req["ResultURL"] = _url(body, "ResultURL")
    occasion_field = "Occassion" if body.get("Occassion") not in (None, "") else "Occasion"
    req["Occassion"] = _text(body, occasion_field, 0, 100, required=False)
    if api == "b2c_validate":
        req["IDType"] = _text(body, "IDType", 2, 2)
        if req["IDType"] not in directory.ID_TYPES:
            raise bad("IDType")
        req["IDNumber"] = _text(body, "IDNumber", 1, 30)
    return req


def validate_reversal(body: Any) -> dict:
    """TransactionReversal: the original's receipt and amount, our shortcode as ReceiverParty.

    The request has no OriginatorConversationID (M-Pesa makes one); one sent anyway is echoed.
    """
    if not isinstance(body, dict):
        raise bad("Request")
    req: dict[str, Any] = {
        "Initiator": _text(body, "Initiator", 1, 100),
        "SecurityCredential": _text(body, "SecurityCredential", 1, 2048),
        "CommandID": _text(body, "CommandID"),
    }
    if req["CommandID"] != "TransactionReversal":
        raise bad("CommandID")
    req["TransactionID"] = _text(body, "TransactionID", 1, 20)
    req["Amount"] = _amount(body)
    req["ReceiverParty"] = _digits(body, "ReceiverParty", 5, 12)
    req["RecieverIdentifierType"] = _text(body, "RecieverIdentifierType", 1, 2)  # sic, as in the docs
    if req["RecieverIdentifierType"] not in REVERSAL_IDENTIFIER_TYPES:
        raise bad("RecieverIdentifierType")
    req["ResultURL"] = _url(body, "ResultURL")
    req["QueueTimeOutURL"] = _url(body, "QueueTimeOutURL")
    req["Remarks"] = _text(body, "Remarks", 2, 100)
    req["Occasion"] = _text(body, "Occasion", 0, 100, required=False)
    req["OriginatorConversationID"] = _text(body, "OriginatorConversationID", 1, 128, required=False)
    return req


def validate_status_query(body: Any) -> dict:
    if not isinstance(body, dict):
        raise bad("Request")
    req = _common_query(body, "TransactionStatusQuery")
    req["TransactionID"] = _text(body, "TransactionID", 1, 20, required=False)
    req["OriginalConversationID"] = _text(body, "OriginalConversationID", 1, 128, required=False)
    if not req["TransactionID"] and not req["OriginalConversationID"]:
        raise bad("TransactionID")
    req["Occasion"] = _text(body, "Occasion", 0, 100, required=False)
    return req


def validate_balance_query(body: Any) -> dict:
    if not isinstance(body, dict):
        raise bad("Request")
    return _common_query(body, "AccountBalance")


def _common_query(body: dict, command: str) -> dict:
    req: dict[str, Any] = {
        "Initiator": _text(body, "Initiator", 1, 100),
        "SecurityCredential": _text(body, "SecurityCredential", 1, 2048),
        "CommandID": _text(body, "CommandID"),
    }
    if req["CommandID"] != command:
        raise bad("CommandID")
    req["PartyA"] = _digits(body, "PartyA", 5, 12)
    req["IdentifierType"] = _text(body, "IdentifierType", 1, 2)
    if req["IdentifierType"] not in ("1", "2", "4"):
        raise bad("IdentifierType")
    req["ResultURL"] = _url(body, "ResultURL")
    req["QueueTimeOutURL"] = _url(body, "QueueTimeOutURL")
    req["Remarks"] = _text(body, "Remarks", 1, 100, required=False) or ""
    return req


# -- the initiator and its credential ----------------------------------------------------------
def check_initiator(sim: Simulator, conn: sqlite3.Connection, name: str, credential: str) -> str | None:
    """None when the initiator may act, else the ResultCode (2001 wrong, 8006 locked).

    Runs inside the processing transaction so the consecutive-failure count cannot race.
    """
    state = sim.db.get_setting("initiator") or {"consecutive_failures": 0, "locked": False}
    if state["locked"]:
        return "8006"
    org = sim.org
    if name == org["initiator_name"] and sim.decryptor.decrypt(credential) == org["initiator_password"]:
        if state["consecutive_failures"]:
            sim.db.set_setting("initiator", {"consecutive_failures": 0, "locked": False}, conn)
        return None
    failures = state["consecutive_failures"] + 1
    locked = failures >= int(sim.config["credential_lock_after"])
    sim.db.set_setting("initiator", {"consecutive_failures": failures, "locked": locked}, conn)
    return "2001"


# -- B2C processing -----------------------------------------------------------------------------
def decide_b2c(sim: Simulator, conn: sqlite3.Connection, txn: sqlite3.Row, req: dict) -> str | None:
    """The failing ResultCode for this payment, checked in M-Pesa's order, or None to pay."""
    code = check_initiator(sim, conn, req["InitiatorName"], req["SecurityCredential"])
    if code:
        return code
    if req["PartyA"] != sim.org["shortcode"]:
        return "21"
    msisdn = req["PartyB"]
    if not directory.is_market_mobile(msisdn):
        return "SFC_IC0003"  # not an M-Pesa number of this market (in Ethiopia: Ethio telecom's 09)
    cfg = sim.config
    cents = txn["amount_cents"]
    if cents < int(cfg["min_amount"]) * 100:
        return "2"
    if cents > int(cfg["max_amount"]) * 100:
        return "3"
    wallet = conn.execute(
        "SELECT w.*, a.balance_cents FROM wallets w JOIN accounts a ON a.id = w.account_id WHERE msisdn = ?",
        (msisdn,),
    ).fetchone()
    if wallet is None or not wallet["registered"]:
        return "2040"
    if wallet["status"] != "active":
        return "2006"
    if txn["api"] == "b2c_validate":
        if req["IDType"] != wallet["id_type"]:
            return "R002"
        if req["IDNumber"].strip().upper() != wallet["id_number"].strip().upper():
            return "R003"
    if ledger.balance(conn, ledger.UTILITY) < cents:
        return "1"
    return {"daily": "4", "cap": "8", None: None}[recipient_limit_breach(conn, cfg, msisdn, wallet, cents)]


def process_b2c(sim: Simulator, txn_id: int) -> None:
    """Settle one accepted B2C request and send its callback (or timeout notice)."""
    row = sim.db.one("SELECT * FROM transactions WHERE id = ? AND status = 'pending'", (txn_id,))
    if row is None:
        return
    req = json.loads(row["request_json"])
    party_b = req["PartyB"]
    transient = sim.faults.fire("transient_result", party_b)
    timeout_rule = sim.faults.fire("queue_timeout", party_b)
    lost = sim.faults.fire("lost_result", party_b)
    with sim.db.write() as conn:
        row = conn.execute(
            "SELECT * FROM transactions WHERE id = ? AND status = 'pending'", (txn_id,)
        ).fetchone()
        if row is None:
            return  # another processor got there first
        # Taken under the write lock: completion times then follow the order of the balances.
        moment = receipts.now()
        if transient:
            code = str(transient["code"])
        elif timeout_rule and not timeout_rule["processed"]:
            code = "1037"
        else:
            code = decide_b2c(sim, conn, row, req)
        if code is None:
            utility_after, wallet_after = ledger.move(
                conn, ledger.UTILITY, directory.wallet_ref(party_b), row["amount_cents"]
            )
            receipt = ledger.assign_receipt(conn, txn_id)
            conn.execute(
                "UPDATE transactions SET status = 'completed', result_code = '0', result_desc = ?,"
                " finalised_at = ? WHERE id = ?",
                (SUCCESS_DESC, receipts.iso(moment), txn_id),
            )
            ledger.journal(
                conn,
                txn_id,
                ledger.UTILITY,
                directory.wallet_ref(party_b),
                row["amount_cents"],
                utility_after,
                wallet_after,
                receipts.iso(moment),
            )
            sms.send(
                conn,
                party_b,
                sms.b2c_received(receipt, row["amount_cents"], sim.org["org_name"], moment, wallet_after),
            )
            wallet_name = conn.execute(
                "SELECT a.name FROM accounts a WHERE a.ref = ?", (directory.wallet_ref(party_b),)
            ).fetchone()["name"]
            working = ledger.balance(conn, ledger.WORKING)
            body = b2c_success_result(row, req, receipt, moment, wallet_name, utility_after, working)
        else:
            conn.execute(
                "UPDATE transactions SET status = 'failed', result_code = ?, result_desc = ?,"
                " finalised_at = ?"
                " WHERE id = ?",
                (code, RESULT_DESCRIPTIONS[code], receipts.iso(moment), txn_id),
            )
            body = failure_result(
                code,
                row["originator_conversation_id"],
                row["conversation_id"],
                moment,
                req["QueueTimeOutURL"],
            )
        if lost:
            mark_silent(conn, txn_id)
    if lost:
        return  # processed; its result and every status answer about it are lost
    if timeout_rule:
        if timeout_rule["shape"] == "echo":
            notice = dict(req, SecurityCredential="REDACTED", Amount=str(req["Amount"]))
        else:
            notice = failure_result(
                "1037", row["originator_conversation_id"], row["conversation_id"], moment, None
            )
        sim.dispatcher.submit(
            "timeout", row["originator_conversation_id"], req["QueueTimeOutURL"], notice, party_b
        )
        return
    sim.dispatcher.submit("result", row["originator_conversation_id"], req["ResultURL"], body, party_b)


# -- reversal -----------------------------------------------------------------------------------
def find_reversible(conn: sqlite3.Connection, receipt: str) -> sqlite3.Row | None:
    """The organisation's completed B2C payment with this receipt, or None."""
    return conn.execute(
        "SELECT * FROM transactions WHERE receipt = ? AND kind = 'b2c' AND status = 'completed'"
        " AND from_account = ?",
        (receipt, ledger.UTILITY),
    ).fetchone()


def decide_reversal(
    sim: Simulator, conn: sqlite3.Connection, txn: sqlite3.Row, req: dict
) -> tuple[str | None, sqlite3.Row | None]:
    """(failing ResultCode or None to reverse, the original payment when there is one)."""
    code = check_initiator(sim, conn, req["Initiator"], req["SecurityCredential"])
    if code:
        return code, None
    if req["ReceiverParty"] != sim.org["shortcode"]:
        return "21", None
    original = find_reversible(conn, req["TransactionID"])
    if original is None:
        return "R000002", None
    if original["reversed_by"]:
        return "R000001", original
    if txn["amount_cents"] != original["amount_cents"]:
        return "2006", original
    # The debit party of a B2C reversal is the customer: the money must still be in the wallet.
    if ledger.balance(conn, original["to_account"]) < txn["amount_cents"]:
        return "1", original
    return None, original


def process_reversal(sim: Simulator, txn_id: int) -> None:
    """Settle one accepted reversal: wallet -> Utility, the original marked, the result sent."""
    row = sim.db.one("SELECT * FROM transactions WHERE id = ? AND status = 'pending'", (txn_id,))
    if row is None:
        return
    req = json.loads(row["request_json"])
    party_b = row["party_b"]
    lost = sim.faults.fire("lost_result", party_b)
    with sim.db.write() as conn:
        row = conn.execute(
            "SELECT * FROM transactions WHERE id = ? AND status = 'pending'", (txn_id,)
        ).fetchone()
        if row is None:
            return
        moment = receipts.now()
        at = receipts.iso(moment)
        code, original = decide_reversal(sim, conn, row, req)
        if code is None:
            wallet = original["to_account"]
            cents = row["amount_cents"]
            wallet_after, utility_after = ledger.move(conn, wallet, ledger.UTILITY, cents)
            receipt = ledger.assign_receipt(conn, txn_id)
            conn.execute(
                "UPDATE transactions SET status = 'completed', result_code = '0', result_desc = ?,"
                " finalised_at = ?, from_account = ?, party_b = ?, linked_receipt = ? WHERE id = ?",
                (SUCCESS_DESC, at, wallet, original["party_b"], original["receipt"], txn_id),
            )
            conn.execute("UPDATE transactions SET reversed_by = ? WHERE id = ?", (receipt, original["id"]))
            ledger.journal(conn, txn_id, wallet, ledger.UTILITY, cents, wallet_after, utility_after, at)
            name = conn.execute("SELECT name FROM accounts WHERE ref = ?", (wallet,)).fetchone()["name"]
            sms.send(
                conn,
                original["party_b"],
                sms.reversal_debited(
                    receipt, original["receipt"], cents, sim.org["org_name"], moment, wallet_after
                ),
            )
            body = reversal_success_result(sim, row, req, receipt, original, name, moment, utility_after)
        else:
            conn.execute(
                "UPDATE transactions SET status = 'failed', result_code = ?, result_desc = ?,"
                " finalised_at = ? WHERE id = ?",
                (code, REVERSAL_DESCRIPTIONS[code], at, txn_id),
            )
            body = failure_result(
                code,
                row["originator_conversation_id"],
                row["conversation_id"],
                moment,
                req["QueueTimeOutURL"],
                REVERSAL_DESCRIPTIONS,
            )
        if lost:
            mark_silent(conn, txn_id)
    if lost:
        return
    sim.dispatcher.submit("result", row["originator_conversation_id"], req["ResultURL"], body, party_b)


def reversal_success_result(sim, row, req, receipt, original, wallet_name, moment, utility_after) -> dict:
    result = _envelope("0", SUCCESS_DESC, row["originator_conversation_id"], row["conversation_id"], receipt)
    result["ResultParameters"] = {
        "ResultParameter": [
            {"Key": "DebitAccountBalance", "Value": balance_entry("Utility Account", utility_after)},
            {"Key": "Amount", "Value": receipts.amount_value(row["amount_cents"])},
            {"Key": "TransCompletedTime", "Value": receipts.compact_datetime(moment)},
            {"Key": "OriginalTransactionID", "Value": original["receipt"]},
            {"Key": "Charge", "Value": 0},
            {"Key": "CreditPartyPublicName", "Value": f"{sim.org['shortcode']} - {sim.org['org_name']}"},
            {"Key": "DebitPartyPublicName", "Value": f"{original['party_b']} - {wallet_name}"},
        ]
    }
    result["ReferenceData"] = _reference("QueueTimeoutURL", req["QueueTimeOutURL"])
    return {"Result": result}


def _envelope(code: str, desc: str, ocid: str, conversation_id: str, transaction_id: str) -> dict:
    return {
        "ResultType": 0,
        "ResultCode": result_code_value(code),
        "ResultDesc": desc,
        "OriginatorConversationID": ocid,
        "ConversationID": conversation_id,
        "TransactionID": transaction_id,
    }


def _reference(key: str, value: str | None) -> dict:
    item = {"Key": key} if value is None else {"Key": key, "Value": value}
    return {"ReferenceItem": item}


def b2c_success_result(row, req, receipt, moment, wallet_name, utility_after, working) -> dict:
    result = _envelope("0", SUCCESS_DESC, row["originator_conversation_id"], row["conversation_id"], receipt)
    result["ResultParameters"] = {
        "ResultParameter": [
            {"Key": "TransactionAmount", "Value": receipts.amount_value(row["amount_cents"])},
            {"Key": "TransactionReceipt", "Value": receipt},
            {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
            {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": 0.00},
            {"Key": "ReceiverPartyPublicName", "Value": f"{req['PartyB']} - {wallet_name}"},
            {"Key": "TransactionCompletedDateTime", "Value": receipts.completed_datetime(moment)},
            {"Key": "B2CUtilityAccountAvailableFunds", "Value": utility_after / 100},
            {"Key": "B2CWorkingAccountAvailableFunds", "Value": working / 100},
        ]
    }
    result["ReferenceData"] = _reference("QueueTimeoutURL", req["QueueTimeOutURL"])
    return {"Result": result}


def failure_result(
    code: str,
    ocid: str,
    conversation_id: str,
    moment,
    queue_timeout_url: str | None,
    descriptions: dict = RESULT_DESCRIPTIONS,
) -> dict:
    result = _envelope(
        code, descriptions[code], ocid, conversation_id, receipts.placeholder_transaction_id(moment)
    )
    if queue_timeout_url is not None:
        result["ReferenceData"] = _reference("QueueTimeoutURL", queue_timeout_url)
    return {"Result": result}


# -- transaction status -------------------------------------------------------------------------
def process_status_query(sim: Simulator, req: dict, ocid: str, conversation_id: str) -> None:
    moment = receipts.now()
    with sim.db.write() as conn:
        code = check_initiator(sim, conn, req["Initiator"], req["SecurityCredential"])
    if about_silent(sim, req):
        return  # fault lost_result: acknowledged, never answered
    if code:
        body = failure_result(code, ocid, conversation_id, moment, None)
    else:
        body = status_result(sim, req, ocid, conversation_id, moment)
    sim.dispatcher.submit("result", ocid, req["ResultURL"], body)


def about_silent(sim: Simulator, req: dict) -> bool:
    """Whether the query names (by OriginatorConversationID or receipt) a lost_result transaction."""
    return (
        sim.db.one(
            "SELECT 1 FROM transactions WHERE silent = 1 AND (originator_conversation_id = ? OR receipt = ?)",
            (req.get("OriginalConversationID"), req.get("TransactionID")),
        )
        is not None
    )


def find_transaction(sim: Simulator, req: dict) -> tuple[sqlite3.Row | None, str]:
    if req.get("OriginalConversationID"):
        row = sim.db.one(
            "SELECT * FROM transactions WHERE originator_conversation_id = ?",
            (req["OriginalConversationID"],),
        )
        if row is not None:
            return row, ""
    if req.get("TransactionID") and not req["TransactionID"].endswith("0000000"):
        row = sim.db.one("SELECT * FROM transactions WHERE receipt = ?", (req["TransactionID"],))
        if row is not None:
            return row, ""
    return None, "2033" if req.get("OriginalConversationID") else "2032"


def status_result(sim: Simulator, req: dict, ocid: str, conversation_id: str, moment) -> dict:
    """What a status query reports: Completed with the receipt, Pending, or the original failure.

    A failed payment is reported with its own ResultCode so the client knows it may pay again
    under a new OriginatorConversationID; a pending one says Pending (ResultCode 0, no receipt)
    so it is never mistaken for "unknown" and paid twice.
    """
    row, missing = find_transaction(sim, req)
    placeholder = receipts.placeholder_transaction_id(moment)
    if row is None:
        return failure_result(missing, ocid, conversation_id, moment, None)
    original = json.loads(row["request_json"] or "{}")
    status = {"completed": "Completed", "failed": "Failed", "pending": "Pending"}[row["status"]]
    if row["status"] == "failed":
        code, desc = row["result_code"], row["result_desc"]
    else:
        code, desc = "0", SUCCESS_DESC
    reversal = row["kind"] == "reversal"  # the customer is debited, the organisation credited
    customer_ref = row["from_account"] if reversal else row["to_account"]
    customer = sim.db.one("SELECT name FROM accounts WHERE ref = ?", (customer_ref,))
    party_b = row["party_b"] or customer_ref.split(":", 1)[-1]
    customer_name = f"{party_b} - {customer['name']}" if customer else party_b
    org_name = f"{sim.org['shortcode']} - {sim.org['org_name'].upper()}"
    initiated = receipts.parse_iso(row["created_at"])
    params: list[dict] = [
        {"Key": "DebitPartyName", "Value": customer_name if reversal else org_name},
        {"Key": "CreditPartyName", "Value": org_name if reversal else customer_name},
        {"Key": "OriginatorConversationID", "Value": row["originator_conversation_id"]},
        {"Key": "InitiatedTime", "Value": receipts.compact_datetime(initiated)},
    ]
    if row["finalised_at"]:
        finalised = receipts.parse_iso(row["finalised_at"])
        params.append({"Key": "FinalisedTime", "Value": receipts.compact_datetime(finalised)})
    params += [
        {"Key": "DebitAccountType", "Value": "Utility Account"},
        {"Key": "DebitPartyCharges", "Value": f"Fee For B2C Payment|{markets.current().currency}|0.00"},
        {"Key": "TransactionReason"},
        {
            "Key": "ReasonType",
            "Value": "Reversal"
            if reversal
            else B2C_COMMANDS.get(original.get("CommandID"), "Business Payment to Customer via API"),
        },
        {"Key": "TransactionStatus", "Value": status},
        {"Key": "Amount", "Value": receipts.amount_value(row["amount_cents"])},
        {"Key": "ConversationID", "Value": row["conversation_id"]},
    ]
    if row["receipt"]:
        params.append({"Key": "ReceiptNo", "Value": row["receipt"]})
    result = _envelope(code, desc, ocid, conversation_id, placeholder)
    result["ResultParameters"] = {"ResultParameter": params}
    result["ReferenceData"] = _reference("Occasion", req.get("Occasion"))
    return {"Result": result}


# -- account balance ----------------------------------------------------------------------------
def process_balance_query(sim: Simulator, req: dict, ocid: str, conversation_id: str) -> None:
    moment = receipts.now()
    with sim.db.write() as conn:
        code = check_initiator(sim, conn, req["Initiator"], req["SecurityCredential"])
        if not code and req["PartyA"] != sim.org["shortcode"]:
            code = "21"
        utility = ledger.balance(conn, ledger.UTILITY)
        working = ledger.balance(conn, ledger.WORKING)
    if code:
        body = failure_result(code, ocid, conversation_id, moment, req["QueueTimeOutURL"])
    else:
        result = _envelope(
            "0", SUCCESS_DESC, ocid, conversation_id, receipts.placeholder_transaction_id(moment)
        )
        result["ResultCode"] = "0"  # balance_result.json carries it as a string
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "AccountBalance", "Value": account_balance_string(working, utility)},
                {"Key": "BOCompletedTime", "Value": receipts.compact_datetime(moment)},
            ]
        }
        result["ReferenceData"] = _reference("QueueTimeoutURL", req["QueueTimeOutURL"])
        body = {"Result": result}
    sim.dispatcher.submit("result", ocid, req["ResultURL"], body)


def balance_entry(name: str, cents: int) -> str:
    """One account in M-Pesa's balance string: Name|Currency|Current|Available|Reserved|Uncleared."""
    amount = "%d.%02d" % (cents // 100, cents % 100)
    return f"{name}|{markets.current().currency}|{amount}|{amount}|0.00|0.00"


def account_balance_string(working_cents: int, utility_cents: int) -> str:
    return "&".join(
        [
            balance_entry("Working Account", working_cents),
            balance_entry("Float Account", 0),
            balance_entry("Utility Account", utility_cents),
            balance_entry("Charges Paid Account", 0),
            balance_entry("Organization Settlement Account", 0),
        ]
    )


# -- registration -------------------------------------------------------------------------------
# Daraja markets (Kenya, Ethiopia): each B2C version's and the reversal's pending rows are
# settled by this module's processors.
families.register(
    families.Family(
        name="daraja",
        serves=lambda market: market.api_family == "daraja",
        resume={
            "b2c_v3": process_b2c,
            "b2c_v2": process_b2c,
            "b2c_v1": process_b2c,
            "b2c_validate": process_b2c,
            "reversal": process_reversal,
        },
    )
)
