"""M-Pesa-shaped bodies for feeding the real callback handlers (shapes: reference/daraja.md)."""


def result_body(
    ocid,
    code=0,
    amount=500,
    msisdn="254712345678",
    receipt="UKR1ABCDEF",
    conversation_id=None,
    name="JANE DOE",
):
    result = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully." if code == 0 else "Failed",
        "OriginatorConversationID": ocid,
        "ConversationID": conversation_id or "AG_20261127_00001111222233334444",
        "TransactionID": receipt if code == 0 else "UKR0000000",
    }
    if code == 0:
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": amount},
                {"Key": "TransactionReceipt", "Value": receipt},
                {"Key": "ReceiverPartyPublicName", "Value": f"{msisdn} - {name}"},
                {"Key": "TransactionCompletedDateTime", "Value": "27.11.2026 13:15:00"},
                {"Key": "B2CUtilityAccountAvailableFunds", "Value": 9999500.00},
                {"Key": "B2CWorkingAccountAvailableFunds", "Value": 0.00},
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": 0.00},
            ]
        }
    return {"Result": result}


def status_body(
    original_ocid, code=0, status="Completed", amount=500, receipt="UKR1ABCDEF", msisdn="254712345678"
):
    result = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "status-query-id",
        "ConversationID": "AG_20261127_99998888777766665555",
        "TransactionID": "UKR0000000",
    }
    if code == 0:
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "CreditPartyName", "Value": f"{msisdn} - JANE DOE"},
                {"Key": "OriginatorConversationID", "Value": original_ocid},
                {"Key": "FinalisedTime", "Value": 20261127131500},
                {"Key": "TransactionStatus", "Value": status},
                {"Key": "Amount", "Value": amount},
                {"Key": "ReceiptNo", "Value": receipt},
            ]
        }
    return {"Result": result}


def timeout_body(ocid):
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": 1037,
            "ResultDesc": "The request timed out in the queue.",
            "OriginatorConversationID": ocid,
            "ConversationID": "AG_20261127_00001111222233334444",
            "TransactionID": "UKR0000000",
        }
    }
