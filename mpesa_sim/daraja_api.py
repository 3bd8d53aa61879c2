"""The Daraja routes: OAuth token, B2C (v3, v1, validated), reversal, transaction status, account balance.

Which paths exist is the market's (``markets.Market.api_paths``): Kenya serves its own, Ethiopia
``/v1/token/generate``, B2C v2, balance v2 and reversal v2; the other market's paths answer 404,
as they would at that market's host.

Bodies are read by hand rather than through pydantic models so that every problem is answered
in Daraja's own error shape ({"requestId", "errorCode", "errorMessage"}) and codes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import sqlite3

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mpesa_sim import directory, families, ledger, markets, payments, receipts
from mpesa_sim.payments import DarajaError
from mpesa_sim.state import Simulator


def daraja_error(status: int, code: str, message: str) -> JSONResponse:
    body = {"requestId": receipts.new_request_id(), "errorCode": code, "errorMessage": message}
    return JSONResponse(body, status_code=status)


def _sim(request: Request) -> Simulator:
    return request.app.state.sim


# -- OpenAPI descriptions (documentation and schema-driven fuzzing only) -------------------------
_S = {"type": "string", "minLength": 1, "maxLength": 100}
_URL = {
    "type": "string",
    "pattern": "^https?://[^\\s]+$",
    "maxLength": 1000,
    "example": "https://odoo.example.org/g2p_payment_mpesa/1/secret/result",
    # Marks the callback URLs so the schema-driven fuzz can keep them on a closed local port:
    # the simulator posts to whatever URL it is given.
    "x-callback-url": True,
}
_AMOUNT = {
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": 300000},
        {"type": "string", "pattern": "^[0-9]{1,6}$"},
    ]
}
_SHORTCODE = {"type": "string", "pattern": "^[0-9]{5,7}$", "example": "600000"}
_MSISDN = {"type": "string", "pattern": "^2547[0-9]{8}$", "example": "254712345678"}
B2C_V3_SCHEMA = {
    "type": "object",
    "required": [
        "OriginatorConversationID",
        "InitiatorName",
        "SecurityCredential",
        "CommandID",
        "Amount",
        "PartyA",
        "PartyB",
        "Remarks",
        "QueueTimeOutURL",
        "ResultURL",
    ],
    "properties": {
        "OriginatorConversationID": _S,
        "InitiatorName": _S,
        "SecurityCredential": _S,
        "CommandID": {"type": "string", "enum": list(payments.B2C_COMMANDS)},
        "Amount": _AMOUNT,
        "PartyA": _SHORTCODE,
        "PartyB": _MSISDN,
        "Remarks": _S,
        "QueueTimeOutURL": _URL,
        "ResultURL": _URL,
        "Occassion": _S,
    },
}
B2C_V1_SCHEMA = {
    **B2C_V3_SCHEMA,
    "required": [f for f in B2C_V3_SCHEMA["required"] if f != "OriginatorConversationID"],
}
B2C_VALIDATE_SCHEMA = {
    **B2C_V3_SCHEMA,
    "required": [*B2C_V3_SCHEMA["required"], "IDType", "IDNumber"],
    "properties": {
        **B2C_V3_SCHEMA["properties"],
        "IDType": {"type": "string", "enum": list(directory.ID_TYPES)},
        "IDNumber": _S,
    },
}
_QUERY_PROPS = {
    "Initiator": _S,
    "SecurityCredential": _S,
    "PartyA": _SHORTCODE,
    "IdentifierType": {"type": "string", "enum": ["4"]},
    "ResultURL": _URL,
    "QueueTimeOutURL": _URL,
    "Remarks": _S,
}
STATUS_SCHEMA = {
    "type": "object",
    "required": [
        "Initiator",
        "SecurityCredential",
        "CommandID",
        "PartyA",
        "IdentifierType",
        "ResultURL",
        "QueueTimeOutURL",
    ],
    "properties": {
        **_QUERY_PROPS,
        "CommandID": {"type": "string", "enum": ["TransactionStatusQuery"]},
        "TransactionID": _S,
        "OriginalConversationID": _S,
        "Occasion": _S,
    },
}
BALANCE_SCHEMA = {
    "type": "object",
    "required": [
        "Initiator",
        "SecurityCredential",
        "CommandID",
        "PartyA",
        "IdentifierType",
        "ResultURL",
        "QueueTimeOutURL",
    ],
    "properties": {**_QUERY_PROPS, "CommandID": {"type": "string", "enum": ["AccountBalance"]}},
}
REVERSAL_SCHEMA = {
    "type": "object",
    "required": [
        "Initiator",
        "SecurityCredential",
        "CommandID",
        "TransactionID",
        "Amount",
        "ReceiverParty",
        "RecieverIdentifierType",
        "ResultURL",
        "QueueTimeOutURL",
        "Remarks",
    ],
    "properties": {
        "Initiator": _S,
        "SecurityCredential": _S,
        "CommandID": {"type": "string", "enum": ["TransactionReversal"]},
        "TransactionID": {"type": "string", "pattern": "^[A-Z0-9]{10}$", "example": "UL2AB3CD4E"},
        "Amount": _AMOUNT,
        "ReceiverParty": _SHORTCODE,
        "RecieverIdentifierType": {"type": "string", "enum": list(payments.REVERSAL_IDENTIFIER_TYPES)},
        "ResultURL": _URL,
        "QueueTimeOutURL": _URL,
        "Remarks": {"type": "string", "minLength": 2, "maxLength": 100},
        "Occasion": _S,
    },
}
_ERROR = {"description": "Daraja error {requestId, errorCode, errorMessage}"}


def _doc(schema: dict) -> dict:
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "security": [{"DarajaBearer": []}],
    }


_RESPONSES = {400: _ERROR, 404: _ERROR, 500: _ERROR}


# -- OAuth --------------------------------------------------------------------------------------
async def generate_token(request: Request, grant_type: str | None = None):
    sim = _sim(request)
    if sim.market.token_errors == "resultcode":
        return _generate_token_resultcode(request, sim, grant_type)
    if grant_type != "client_credentials":
        return daraja_error(400, "400.008.02", "Invalid grant type passed")
    key, secret, basic = _basic_credentials(request)
    if not basic or (key, secret) != (sim.org["consumer_key"], sim.org["consumer_secret"]):
        return daraja_error(400, "400.008.01", "Invalid Authentication passed")
    token, ttl = sim.issue_token()
    # expires_in is a string in real answers.
    return {"access_token": token, "expires_in": str(ttl)}


def _basic_credentials(request: Request) -> tuple[str, str, bool]:
    """(key, secret, whether the header was a decodable Basic key:secret)."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    try:
        key, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key, sep, secret = "", "", ""
    return key, secret, scheme.lower() == "basic" and bool(sep)


def _token_error(status: int, code: str, desc: str) -> JSONResponse:
    return JSONResponse({"resultCode": code, "resultDesc": desc}, status_code=status)


def _generate_token_resultcode(request: Request, sim: Simulator, grant_type: str | None):
    """Ethiopia's token answer and errors (docs/markets/ethiopia.md 1: {resultCode, resultDesc};
    the HTTP statuses 400/401 are from one SDK's mocks)."""
    if grant_type != "client_credentials":
        return _token_error(400, "999998", "Required parameter [grant_type] is invalid or empty")
    key, secret, basic = _basic_credentials(request)
    if not basic:
        return _token_error(401, "999996", "Invalid Authentication passed")
    if key != sim.org["consumer_key"]:
        return _token_error(400, "999991", "Invalid client id passed")
    if secret != sim.org["consumer_secret"]:
        return _token_error(401, "999997", "Invalid Authorization Header")
    token, ttl = sim.issue_token()
    return {"access_token": token, "token_type": "Bearer", "expires_in": str(ttl)}


# -- shared request handling --------------------------------------------------------------------
async def _preamble(request: Request, party_b_key: str | None) -> tuple[dict | None, JSONResponse | None]:
    """Token, injected sync faults, content type, JSON: the body, or the error answer."""
    sim = _sim(request)
    sim.api_requests.record(request.url.path)  # before any check: every start counts
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not sim.token_valid(token.strip()):
        return None, daraja_error(*sim.market.invalid_token)
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return None, daraja_error(400, "400.002.02", "Bad Request - Invalid Content-Type")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, daraja_error(400, "400.002.02", "Bad Request - Invalid JSON")
    party_b = str(body.get(party_b_key)) if isinstance(body, dict) and party_b_key else None
    rule = sim.faults.fire("slow_response", party_b)
    if rule:
        await asyncio.sleep(rule["delay_ms"] / 1000)
    if sim.faults.fire("spike_arrest", party_b):
        return None, daraja_error(500, "500.003.02", "Spike arrest violation")
    if sim.faults.fire("sync_500", party_b):
        return None, daraja_error(500, "500.001.1001", "Internal Server Error")
    return body, None


def _ack(ocid: str, conversation_id: str) -> dict:
    return {
        "ConversationID": conversation_id,
        "OriginatorConversationID": ocid,
        "ResponseCode": "0",
        "ResponseDescription": payments.ACCEPTED,
    }


async def _b2c(request: Request, api: str):
    sim = _sim(request)
    body, error = await _preamble(request, "PartyB")
    if error:
        return error
    try:
        req = payments.validate_b2c(body, api, sim.market.shortcode_digits)
    except DarajaError as exc:
        return daraja_error(exc.status, exc.code, exc.message)
    if api == "b2c_v1":
        # v1 has no caller id, so a retry there is a second payment (why clients use v3).
        req["OriginatorConversationID"] = receipts.new_originator_conversation_id()
    fields = {
        "kind": "b2c",
        "api": api,
        "from_account": ledger.UTILITY,
        "to_account": directory.wallet_ref(req["PartyB"]),
        "party_b": req["PartyB"],
        "amount_cents": req["Amount"] * 100,
    }
    return await _accept(sim, req, fields, payments.process_b2c)


async def _accept(sim: Simulator, req: dict, fields: dict, process):
    """Store an accepted money request, queue its processing, acknowledge it."""
    ocid = req["OriginatorConversationID"]
    conversation_id = receipts.new_conversation_id()
    fields = {
        **fields,
        "originator_conversation_id": ocid,
        "conversation_id": conversation_id,
        "status": "pending",
        "request_json": req,
    }
    try:
        # Committed before the acknowledgement: an accepted request survives a restart.
        txn_id = await asyncio.wrap_future(
            sim.group_commit.submit(lambda conn: ledger.insert_transaction(conn, **fields))
        )
    except sqlite3.IntegrityError:
        return daraja_error(500, "500.002.1001", "Duplicate OriginatorConversationID.")
    sim.enqueue(process, txn_id)
    if sim.faults.fire("sync_500_processed", fields["party_b"]):
        return daraja_error(500, "500.001.1001", "Internal Server Error")
    return _ack(ocid, conversation_id)


async def b2c_v3(request: Request):
    return await _b2c(request, "b2c_v3")


async def b2c_v2(request: Request):
    return await _b2c(request, "b2c_v2")


async def b2c_v1(request: Request):
    return await _b2c(request, "b2c_v1")


async def b2c_validate(request: Request):
    return await _b2c(request, "b2c_validate")


async def reversal(request: Request):
    sim = _sim(request)
    body, error = await _preamble(request, None)
    if error:
        return error
    try:
        req = payments.validate_reversal(body)
    except DarajaError as exc:
        return daraja_error(exc.status, exc.code, exc.message)
    # M-Pesa makes the id; one a client sent anyway is echoed (and, like B2C's, must be new).
    if not req["OriginatorConversationID"]:
        req["OriginatorConversationID"] = receipts.new_originator_conversation_id()
    # Whose wallet it would debit, for the record and the faults' number patterns; the
    # processor decides on the original as it is then.
    original = sim.db.one(
        "SELECT to_account, party_b FROM transactions WHERE receipt = ? AND kind = 'b2c'",
        (req["TransactionID"],),
    )
    fields = {
        "kind": "reversal",
        "api": "reversal",
        "from_account": original["to_account"] if original else "",
        "to_account": ledger.UTILITY,
        "party_b": original["party_b"] if original else None,
        "amount_cents": req["Amount"] * 100,
    }
    return await _accept(sim, req, fields, payments.process_reversal)


async def _query(request: Request, validate, process):
    sim = _sim(request)
    body, error = await _preamble(request, None)
    if error:
        return error
    try:
        req = validate(body)
    except DarajaError as exc:
        return daraja_error(exc.status, exc.code, exc.message)
    ocid = receipts.new_originator_conversation_id()
    caller_ocid = body.get("OriginatorConversationID")
    if sim.market.code != "KE" and isinstance(caller_ocid, str) and 0 < len(caller_ocid) <= 128:
        ocid = caller_ocid  # Ethiopia's balance v2 request carries the caller's id: echoed
    conversation_id = receipts.new_conversation_id()
    sim.enqueue(process, req, ocid, conversation_id)
    if sim.faults.fire("sync_500_processed"):
        return daraja_error(500, "500.001.1001", "Internal Server Error")
    return _ack(ocid, conversation_id)


async def transaction_status(request: Request):
    return await _query(request, payments.validate_status_query, payments.process_status_query)


async def account_balance(request: Request):
    return await _query(request, payments.validate_balance_query, payments.process_balance_query)


def _market_schema(schema: dict, market: markets.Market) -> dict:
    """A request schema with the market's number plan and shortcode length."""
    schema = copy.deepcopy(schema)
    props = schema.get("properties", {})
    low, high = market.shortcode_digits
    for name in ("PartyA", "ReceiverParty"):
        if name in props and props[name].get("pattern") == _SHORTCODE["pattern"]:
            props[name] = {
                "type": "string",
                "pattern": f"^[0-9]{{{low},{high}}}$",
                "example": market.org["shortcode"],
            }
    if "PartyB" in props:
        props["PartyB"] = {
            "type": "string",
            "pattern": f"^{market.country_code}7[0-9]{{8}}$",
            "example": market.example_msisdn,
        }
    return schema


# role -> (endpoint, summary, request schema)
_ROUTES = {
    "b2c_v1": (b2c_v1, "B2C payment (legacy v1, sim-generated id)", B2C_V1_SCHEMA),
    "b2c_validate": (b2c_validate, "Validated B2C (IDType/IDNumber must match)", B2C_VALIDATE_SCHEMA),
    "reversal": (
        reversal,
        "Transaction reversal of a B2C payment (result sent to ResultURL)",
        REVERSAL_SCHEMA,
    ),
    "status": (transaction_status, "Transaction status (result sent to ResultURL)", STATUS_SCHEMA),
    "balance": (account_balance, "Account balance (result sent to ResultURL)", BALANCE_SCHEMA),
}


def build_router(market: markets.Market) -> APIRouter:
    """The Daraja routes this market's host serves, and only those."""
    router = APIRouter(tags=["Daraja"])
    paths = market.api_paths
    router.add_api_route(
        paths["token"],
        generate_token,
        methods=["GET"],
        summary="Access token (Basic consumer_key:consumer_secret)",
        responses={400: _ERROR} if market.token_errors == "daraja" else {400: _ERROR, 401: _ERROR},
        openapi_extra={"security": [{"DarajaBasic": []}]},
    )
    if market is markets.KENYA:
        b2c = (b2c_v3, "B2C payment (v3)")
    else:
        b2c = (b2c_v2, f"B2C payment (v2, {market.country}: caller OriginatorConversationID)")
    routes = {"b2c": (*b2c, B2C_V3_SCHEMA), **_ROUTES}
    # Kenya's routes in their long-standing order (the OpenAPI document stays as it was).
    for role in ("b2c", "b2c_v1", "b2c_validate", "reversal", "status", "balance"):
        if role not in paths:
            continue
        endpoint, summary, schema = routes[role]
        router.add_api_route(
            paths[role],
            endpoint,
            methods=["POST"],
            summary=summary,
            responses=_RESPONSES,
            openapi_extra=_doc(_market_schema(schema, market)),
        )
    return router


# Kenya's, for whoever imports the module's router.
router = build_router(markets.KENYA)


def security_schemes(sim: Simulator) -> dict:
    return {
        "DarajaBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "from " + sim.market.api_paths["token"],
        },
        "DarajaBasic": {
            "type": "http",
            "scheme": "basic",
            "description": "consumer key and secret",
        },
    }


families.register_routes(
    families.Routes(
        family="daraja",
        build=build_router,
        schemes=security_schemes,
        summary="Daraja B2C with asynchronous result callbacks, transaction status and account balance",
    )
)
