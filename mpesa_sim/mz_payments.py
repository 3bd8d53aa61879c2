"""Vodacom Mozambique's own M-Pesa API (developer.mpesa.vm.co.mz, "v1x") on the simulator's ledger.

Served beside the multi-market OpenAPI (vodacomMOZ) by a Mozambique simulator, on the same
ledger: B2C, the status query and reversal, each at its own path (and, in the real API, its own
port: mz_api.py, ``mpesa-sim serve --mz-ports``). No session: every call carries
``Authorization: Bearer base64(RSA PKCS#1 v1.5(public key, API key))`` and an ``Origin`` header.
Deciding, settling, synchronous and asynchronous processing and the status lookups are
vodacom.py's, shared with the OpenAPI; this module holds what is Mozambique's own: its application
(API key, key pair, initiator identifier and security credential), the field names and rules, its
INS code table, its result callback and its status answer.

Facts and their sources: docs/markets/vodacom-openapi.md 8 (with MZDOC, the code table copied from
the Mozambican portal, and the paymentsds, abdulmueid and ivanruby clients), and section 11 for
what the simulator decided where they are silent.

Rows in ``transactions``: kind b2c or reversal, api mz_b2c or mz_reversal, the caller's
input_ThirdPartyReference in ``originator_conversation_id`` (unique, like the OpenAPI's
ThirdPartyConversationID: one organisation, one reference space on this ledger).
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mpesa_sim import credentials, families, vodacom
from mpesa_sim.vodacom import SUCCESS, TRANSACTION_STATUS, InsError, amount_cents, check

if TYPE_CHECKING:
    from mpesa_sim.state import Simulator

# code -> (HTTP status, output_ResponseDesc): the Mozambican portal's table as MZDOC copies it
# (vodacom-openapi.md 6 and 8 [M]). INS-0 is "200 / 201" there: 201 on B2C and reversal, 200 on the
# status query, as in the OpenAPI. INS-1 is 500 here (400 in the OpenAPI).
CODES = {
    "INS-0": (201, "Request processed successfully"),
    "INS-1": (500, "Internal Error"),
    "INS-2": (401, "Invalid API Key"),
    "INS-4": (401, "User is not active"),
    "INS-5": (401, "Transaction cancelled by customer"),
    "INS-6": (401, "Transaction Failed"),
    "INS-9": (408, "Request timeout"),
    "INS-10": (409, "Duplicate Transaction"),
    "INS-13": (400, "Invalid Shortcode Used"),
    "INS-14": (400, "Invalid Reference Used"),
    "INS-15": (400, "Invalid Amount Used"),
    "INS-16": (503, "Unable to handle the request due to a temporary overloading"),
    "INS-17": (400, "Invalid Transaction Reference. Length Should Be Between 1 and 20."),
    "INS-18": (400, "Invalid TransactionID Used"),
    "INS-19": (400, "Invalid ThirdPartyReference Used"),
    "INS-20": (400, "Not All Parameters Provided. Please try again."),
    "INS-21": (400, "Parameter validations failed. Please try again."),
    "INS-22": (400, "Invalid Operation Type"),
    "INS-23": (400, "Unknown Status. Contact M-Pesa Support"),
    "INS-24": (400, "Invalid InitiatorIdentifier Used"),
    "INS-25": (400, "Invalid SecurityCredential Used"),
    "INS-26": (400, "Not authorized"),
    "INS-993": (400, "Direct Debit Missing"),
    "INS-994": (400, "Direct Debit Already Exists"),
    "INS-995": (400, "Customer's Profile Has Problems"),
    "INS-996": (400, "Customer Account Status Not Active"),
    "INS-997": (400, "Linking Transaction Not Found"),
    "INS-998": (400, "Invalid Market"),
    "INS-2001": (400, "Initiator authentication error."),
    "INS-2002": (400, "Receiver invalid."),
    "INS-2006": (422, "Insufficient balance"),
    "INS-2051": (400, "MSISDN invalid."),
    "INS-2057": (400, "Language code invalid."),
}

B2C_API = "mz_b2c"
REVERSAL_API = "mz_reversal"
PATH_PREFIX = "/ipg/v1x"
# role -> (method, path, the real API's port): paymentsds constants, abdulmueid Transaction.php and
# ivanruby agree (vodacom-openapi.md 8 [H]).
OPERATIONS = {
    "b2c": ("POST", f"{PATH_PREFIX}/b2cPayment/", 18345),
    "b2b": ("POST", f"{PATH_PREFIX}/b2bPayment/", 18349),
    "c2b": ("POST", f"{PATH_PREFIX}/c2bPayment/singleStage/", 18352),
    "query": ("GET", f"{PATH_PREFIX}/queryTransactionStatus/", 18353),
    "reversal": ("PUT", f"{PATH_PREFIX}/reversal/", 18354),
}

# The rules (vodacom-openapi.md 8, 11): ServiceProviderCode ^[0-9]{5,6}$ (paymentsds [M]); the
# customer 258 8[45]xxxxxxx (the market's number plan; paymentsds, abdulmueid, ivanruby [H]); the
# references the simulator's choice (alphanumerics; the ThirdPartyReference also '_', as
# paymentsds' \w+ allows); TransactionID and amounts as the OpenAPI's PORTAL regexes.
SERVICE_PROVIDER_CODE = re.compile(r"[0-9]{5,6}")
TRANSACTION_REFERENCE = re.compile(r"[0-9A-Za-z]+")  # INS-14; 1 to 20 characters, else INS-17
THIRD_PARTY_REFERENCE = re.compile(r"[0-9A-Za-z_]{1,40}")
TRANSACTION_ID = re.compile(r"[0-9A-Za-z]{1,20}")
QUERY_REFERENCE = re.compile(r"[0-9A-Za-z_]{1,40}")  # a TransactionID, ThirdPartyReference or ConversationID
REVERSAL_AMOUNT_FIELDS = ("input_ReversalAmount", "input_Amount")  # disputed name: both accepted

B2C_FIELDS = {  # name -> its code when invalid, in the order checked
    "input_ServiceProviderCode": "INS-13",
    "input_ThirdPartyReference": "INS-19",
    "input_TransactionReference": "INS-17",
    "input_Amount": "INS-15",
    "input_CustomerMSISDN": "INS-2051",
}
REVERSAL_FIELDS = {
    "input_ServiceProviderCode": "INS-13",
    "input_ThirdPartyReference": "INS-19",
    "input_TransactionID": "INS-18",
    "input_InitiatorIdentifier": "INS-24",
    "input_SecurityCredential": "INS-25",
    "input_ReversalAmount": "INS-15",
    "input_Amount": "INS-15",
}
QUERY_FIELDS = {
    "input_ServiceProviderCode": "INS-13",
    "input_ThirdPartyReference": "INS-19",
    "input_QueryReference": "INS-21",
}

# The application's initiator, for reversals: the identifier is fixed, the credential drawn at
# the database's first start (both shown on /sim/admin/info and the console).
INITIATOR_IDENTIFIER = "MPesaSimInitiator"
SETTING = "mz_api"


# -- the application ----------------------------------------------------------------------------
@dataclass
class Application:
    """Mozambique's API application of this simulator: its API key, key pair and initiator."""

    api_key: str
    public_key: str  # base64 DER SubjectPublicKeyInfo, as the portal shows it
    initiator_identifier: str
    security_credential: str
    decryptor: credentials.CredentialDecryptor = field(repr=False)


def _start(sim: Simulator) -> Application:
    """Load the application, or make it at the first start of a Mozambique database."""
    stored = sim.db.get_setting(SETTING)
    if stored is None:
        key_pem, public_key = credentials.generate_openapi_key()
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
        stored = {
            "api_key": credentials.new_openapi_api_key(),
            "key_pem": key_pem,
            "public_key": public_key,
            "initiator_identifier": INITIATOR_IDENTIFIER,
            "security_credential": "".join(secrets.choice(alphabet) for _ in range(16)),
        }
        with sim.db.write() as conn:
            if sim.db.get_setting(SETTING) is None:
                sim.db.set_setting(SETTING, stored, conn)
        stored = sim.db.get_setting(SETTING)
    return Application(
        api_key=stored["api_key"],
        public_key=stored["public_key"],
        initiator_identifier=stored["initiator_identifier"],
        security_credential=stored["security_credential"],
        decryptor=credentials.CredentialDecryptor(stored["key_pem"]),
    )


def application(sim: Simulator) -> Application:
    return sim.family_state["mz"]


def settings(sim: Simulator) -> dict:
    """What a client of Mozambique's API is configured with (/sim/admin/info's ``mz``)."""
    app = application(sim)
    return {
        "api_key": app.api_key,
        "public_key": app.public_key,
        "service_provider_code": sim.org["shortcode"],
        "initiator_identifier": app.initiator_identifier,
        "security_credential": app.security_credential,
        "paths": {role: path for role, (_method, path, _port) in OPERATIONS.items()},
        # The real API's port per operation; the simulator serves every path on its own port and
        # also on the --mz-ports it was started with ("listening_ports").
        "ports": {role: port for role, (_method, _path, port) in OPERATIONS.items()},
        "listening_ports": list(sim.extra_ports),
        "reversal_amount_fields": list(REVERSAL_AMOUNT_FIELDS),
        "currency": sim.market.currency,
    }


def banner(sim: Simulator, base_url: str) -> list[str]:
    app = application(sim)
    ports = ", ".join(f"{role} {port}" for role, (_m, _p, port) in OPERATIONS.items())
    listening = ", ".join(str(p) for p in sim.extra_ports) or "none (--mz-ports)"
    return [
        f"  MZ API key        {app.api_key}   (Vodacom Mozambique's own API, v1x: no session)",
        f"  MZ public key     {base_url}/sim/mz/public-key (encrypt the API key with it, every call)",
        f"  MZ paths          {PATH_PREFIX}/: b2cPayment/ POST, queryTransactionStatus/ GET, reversal/ PUT",
        f"  MZ ports          the real API's: {ports}; also listening on: {listening}",
        f"  MZ initiator      {app.initiator_identifier} / {app.security_credential} (reversals)",
    ]


# -- validation ---------------------------------------------------------------------------------
def _spc(sim: Simulator, value: str | None) -> None:
    if check(value, SERVICE_PROVIDER_CODE, "INS-13") != sim.org["shortcode"]:
        raise InsError("INS-13")


def validate_b2c(sim: Simulator, body: Any) -> dict:
    """The request's parameters; InsError for the first problem. Business rules (registration,
    limits, float) come when it is settled."""
    if not isinstance(body, dict):
        raise InsError("INS-21")
    values = vodacom.values(body, B2C_FIELDS)
    _spc(sim, values["input_ServiceProviderCode"])
    check(values["input_ThirdPartyReference"], THIRD_PARTY_REFERENCE, "INS-19")
    reference = values["input_TransactionReference"]
    if len(reference) > 20:
        raise InsError("INS-17")
    check(reference, TRANSACTION_REFERENCE, "INS-14")
    cents = amount_cents(values["input_Amount"])
    check(values["input_CustomerMSISDN"], sim.market.mobile, "INS-2051")
    return {**values, "amount_cents": cents}


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def validate_reversal(sim: Simulator, body: Any) -> dict:
    """Also the initiator: a wrong identifier is INS-24, a wrong credential INS-25 (nothing is
    recorded). The amount is input_ReversalAmount or input_Amount (both: they must agree);
    without one the whole payment is reversed."""
    if not isinstance(body, dict):
        raise InsError("INS-21")
    values = vodacom.values(body, REVERSAL_FIELDS, optional=REVERSAL_AMOUNT_FIELDS)
    _spc(sim, values["input_ServiceProviderCode"])
    check(values["input_ThirdPartyReference"], THIRD_PARTY_REFERENCE, "INS-19")
    check(values["input_TransactionID"], TRANSACTION_ID, "INS-18")
    app = application(sim)
    if not _same(values["input_InitiatorIdentifier"], app.initiator_identifier):
        raise InsError("INS-24")
    if not _same(values["input_SecurityCredential"], app.security_credential):
        raise InsError("INS-25")
    given = {amount_cents(values[name]) for name in REVERSAL_AMOUNT_FIELDS if values[name] is not None}
    if len(given) > 1:
        raise InsError("INS-15")
    return {**values, "amount_cents": given.pop() if given else None}


def validate_query(sim: Simulator, params: dict) -> dict:
    values = vodacom.values(params, QUERY_FIELDS)
    _spc(sim, values["input_ServiceProviderCode"])
    check(values["input_ThirdPartyReference"], THIRD_PARTY_REFERENCE, "INS-19")
    check(values["input_QueryReference"], QUERY_REFERENCE, "INS-21")
    return values


# -- rows, results, answers ---------------------------------------------------------------------
def result_callback(row: sqlite3.Row | dict) -> dict:
    """What the API posts to the application's Response URL in asynchronous mode (MZDOC's "Async
    Result Callback"); a failure carries its INS code and an empty TransactionID."""
    return {
        "input_OriginalConversationID": row["conversation_id"],
        "input_ThirdPartyReference": row["originator_conversation_id"],
        "input_TransactionID": row["receipt"] or "",
        "input_ResultCode": row["result_code"],
        "input_ResultDesc": row["result_desc"],
    }


# Mozambique's code for each reason a payment or a reversal fails (vodacom.py's conditions); the
# choice of code is the simulator's where the table names none for the condition (section 11).
MZ = vodacom.InsApi(
    name="mz",
    b2c_api=B2C_API,
    reversal_api=REVERSAL_API,
    codes=CODES,
    conditions={
        "not_mobile": "INS-2051",
        "amount": "INS-15",
        "unknown": "INS-2002",  # Receiver invalid: no M-Pesa customer with this number
        "unregistered": "INS-2002",
        "inactive": "INS-996",  # Customer Account Status Not Active
        "float": "INS-2006",
        "limit": "INS-995",  # the recipient's limits: Customer's Profile Has Problems
        "not_found": "INS-18",  # Invalid TransactionID Used
        "not_yours": "INS-26",  # Not authorized
        "reversed": "INS-10",  # Duplicate Transaction
        "funds": "INS-2006",
    },
    result_callback=result_callback,
)


def _input(req: dict) -> dict:
    """What is kept of a request: its inputs, the security credential blanked."""
    kept = {k: v for k, v in req.items() if k.startswith("input_")}
    if "input_SecurityCredential" in kept:
        kept["input_SecurityCredential"] = "REDACTED"
    return kept


def b2c_fields(req: dict, callback_url: str) -> dict:
    return MZ.b2c_row(
        req["input_CustomerMSISDN"],
        req["amount_cents"],
        req["input_ThirdPartyReference"],
        _input(req),
        callback_url,
    )


def reversal_fields(conn: sqlite3.Connection, req: dict, callback_url: str) -> dict:
    return MZ.reversal_row(
        conn,
        req["input_TransactionID"],
        req["amount_cents"],
        req["input_ThirdPartyReference"],
        _input(req),
        callback_url,
    )


def status_answer(row: sqlite3.Row, query: dict) -> dict:
    """The query's answer about a found transaction (MZDOC's query response table): the
    ConversationID, the query's own ThirdPartyReference, the status."""
    return {
        "output_ConversationID": row["conversation_id"],
        "output_ResponseCode": SUCCESS,
        "output_ResponseDesc": CODES[SUCCESS][1],
        "output_ThirdPartyReference": query["input_ThirdPartyReference"],
        "output_ResponseTransactionStatus": TRANSACTION_STATUS[row["status"]],
    }


# -- registration -------------------------------------------------------------------------------
# A Mozambique simulator serves this API beside the OpenAPI (its vodacomMOZ market).
families.register(
    families.Family(
        name="mz",
        serves=lambda market: market.code == "MZ",
        resume={B2C_API: MZ.process, REVERSAL_API: MZ.process},
        start=_start,
        info=settings,
        banner=banner,
    )
)
