"""The routes of Vodacom Mozambique's own M-Pesa API (developer.mpesa.vm.co.mz, "v1x").

``/ipg/v1x/b2cPayment/`` (POST), ``/ipg/v1x/queryTransactionStatus/`` (GET, query parameters) and
``/ipg/v1x/reversal/`` (PUT), each also without its trailing slash; ``c2bPayment/singleStage/`` and
``b2bPayment/`` exist and answer 400 INS-22 Invalid Operation Type (the simulated organisation pays
out only). The real API has one port per operation (18345 B2C, 18353 query, 18354 reversal, 18352
C2B, 18349 B2B); this app serves every path on whichever port it is reached, and
``mpesa-sim serve --mz-ports`` makes the same process listen on those ports too, so a client that
appends them to a host works unchanged.

Every call: ``Authorization: Bearer base64(RSA PKCS#1 v1.5(public key, API key))`` (the public key
at ``/sim/mz/public-key``), else HTTP 401 INS-2 Invalid API Key; an ``Origin`` header, else HTTP 400
INS-26 Not authorized (the simulator's choice of code). Every answer is JSON with
``output_ConversationID, output_TransactionID, output_ResponseCode, output_ResponseDesc,
output_ThirdPartyReference`` (MZDOC's response table, for every code; the TransactionID is empty
unless paid, and absent from an asynchronous acceptance), with the HTTP status of Mozambique's
code table (mz_payments.CODES).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from mpesa_sim import families, markets, vodacom_api
from mpesa_sim import mz_payments as rules
from mpesa_sim.mz_payments import CODES, MZ, OPERATIONS
from mpesa_sim.state import Simulator
from mpesa_sim.vodacom import InsError, new_conversation_id
from mpesa_sim.vodacom_api import sim_of


def reply(code: str, params=None, row: dict | None = None, status: int | None = None) -> JSONResponse:
    """An answer in the API's one shape: the row's ConversationID once it is recorded (a new one
    before), its receipt when it is paid, the request's ThirdPartyReference echoed."""
    reference = params.get("input_ThirdPartyReference") if isinstance(params, dict) else None
    body = {
        "output_ConversationID": row["conversation_id"] if row else new_conversation_id(),
        "output_TransactionID": (row.get("receipt") or "") if row else "",
        "output_ResponseCode": code,
        "output_ResponseDesc": CODES[code][1],
        "output_ThirdPartyReference": str(reference) if isinstance(reference, str | int) else "",
    }
    if row is not None and row.get("status") == "pending":
        del body["output_TransactionID"]  # accepted asynchronously: MZDOC's async answer has none
    return JSONResponse(body, status_code=status or CODES[code][0])


def _api_key(sim: Simulator, request: Request) -> str | None:
    """What the Bearer value decrypts to with the application's key, or None."""
    value = vodacom_api.bearer(request)
    return None if value is None else rules.application(sim).decryptor.decrypt(value)


async def authorise(sim: Simulator, request: Request) -> JSONResponse | None:
    """None when the call carries the API key and an Origin, else the refusal."""
    api_key = await run_in_threadpool(_api_key, sim, request)
    expected = rules.application(sim).api_key
    if api_key is None or not secrets.compare_digest(api_key.encode(), expected.encode()):
        return reply("INS-2")
    if not request.headers.get("origin", "").strip():
        return reply("INS-26")
    return None


# -- B2C, reversal, query -----------------------------------------------------------------------
async def b2c_payment(request: Request):
    return await vodacom_api.transaction(
        request,
        api=MZ,
        authorise=authorise,
        reply=reply,
        validate=rules.validate_b2c,
        make_fields=lambda _conn, req, url: rules.b2c_fields(req, url),
        party_b_of=vodacom_api.b2c_party,
        overload="INS-16",
    )


async def reversal(request: Request):
    return await vodacom_api.transaction(
        request,
        api=MZ,
        authorise=authorise,
        reply=reply,
        validate=rules.validate_reversal,
        make_fields=rules.reversal_fields,
        party_b_of=vodacom_api.reversal_party,
        overload="INS-16",
    )


async def query_transaction_status(request: Request):
    return await vodacom_api.query(
        request,
        api=MZ,
        authorise=authorise,
        reply=reply,
        validate=rules.validate_query,
        reference_field="input_QueryReference",
        not_found="INS-23",
        found=lambda row, query: JSONResponse(rules.status_answer(row, query), status_code=200),
        overload="INS-16",
    )


async def not_offered(request: Request):
    """C2B and B2B: authenticated, then refused (the simulated organisation only pays out)."""
    sim = sim_of(request)
    sim.api_requests.record(request.url.path)
    refused = await authorise(sim, request)
    if refused is not None:
        return refused
    try:
        body = await vodacom_api.json_body(request)
    except InsError:  # not JSON: the operation is refused all the same
        body = None
    return reply("INS-22", body)


async def public_key(request: Request):
    """The public key clients encrypt the API key with: base64 DER SubjectPublicKeyInfo, as the
    portal shows it."""
    return PlainTextResponse(rules.application(sim_of(request)).public_key)


# -- the router ---------------------------------------------------------------------------------
_ANSWER = (
    "{output_ConversationID, output_TransactionID, output_ResponseCode, output_ResponseDesc,"
    " output_ThirdPartyReference}"
)
_ERRORS = {status: {"description": _ANSWER} for status in (400, 401, 408, 409, 422, 500, 503)}
_BODY_FIELDS = {
    "b2c": (
        "input_TransactionReference",
        "input_CustomerMSISDN",
        "input_Amount",
        "input_ThirdPartyReference",
        "input_ServiceProviderCode",
    ),
    "reversal": (
        "input_TransactionID",
        "input_SecurityCredential",
        "input_InitiatorIdentifier",
        "input_ThirdPartyReference",
        "input_ServiceProviderCode",
        "input_ReversalAmount",
        "input_Amount",
    ),
}


def _body_doc(role: str, market: markets.Market) -> dict:
    props = {name: {"type": "string"} for name in _BODY_FIELDS[role]}
    if "input_CustomerMSISDN" in props:
        props["input_CustomerMSISDN"] = {"type": "string", "pattern": market.mobile.pattern}
    optional = rules.REVERSAL_AMOUNT_FIELDS
    required = [name for name in _BODY_FIELDS[role] if name not in optional]
    schema = {"type": "object", "required": required, "properties": props}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "security": [{"MzApiKeyBearer": []}],
    }


def build_router(market: markets.Market) -> APIRouter:
    router = APIRouter(tags=["Vodacom Mozambique API (v1x)"])
    router.add_api_route(
        "/sim/mz/public-key",
        public_key,
        methods=["GET"],
        summary="The Mozambique API's public key (base64 DER SubjectPublicKeyInfo)",
        response_class=PlainTextResponse,
        tags=["Certificate"],
    )
    query_params = [
        {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
        for name in ("input_QueryReference", "input_ServiceProviderCode", "input_ThirdPartyReference")
    ]
    routes = {
        "b2c": (b2c_payment, "B2C payment (real API: port 18345)", _body_doc("b2c", market)),
        "query": (
            query_transaction_status,
            "Query transaction status (real API: port 18353)",
            {"parameters": query_params, "security": [{"MzApiKeyBearer": []}]},
        ),
        "reversal": (
            reversal,
            "Reversal of a B2C payment (real API: port 18354)",
            _body_doc("reversal", market),
        ),
        "c2b": (not_offered, "C2B single stage: not simulated, INS-22 (real API: port 18352)", {}),
        "b2b": (not_offered, "B2B payment: not simulated, INS-22 (real API: port 18349)", {}),
    }
    for role, (endpoint, summary, extra) in routes.items():
        method, path, _port = OPERATIONS[role]
        for each, documented in ((path, True), (path[:-1], False)):
            router.add_api_route(
                each,
                endpoint,
                methods=[method],
                summary=summary,
                responses=_ERRORS,
                openapi_extra=extra or {"security": [{"MzApiKeyBearer": []}]},
                include_in_schema=documented,
                name=f"mz_{role}" + ("" if documented else "_no_slash"),
            )
    return router


def security_schemes(_sim: Simulator) -> dict:
    return {
        "MzApiKeyBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "base64(RSA PKCS#1 v1.5(public key, API key)) on every call; the public key"
            " at /sim/mz/public-key",
        }
    }


families.register_routes(
    families.Routes(
        family="mz",
        build=build_router,
        schemes=security_schemes,
        summary="Vodacom Mozambique's own API (v1x: B2C, transaction status and reversal, no session,"
        " one port per operation)",
    )
)
