"""The Vodacom M-Pesa OpenAPI routes of the Tanzania, DR Congo, Lesotho and Ghana markets.

``{prefix}/{context}/getSession/`` (GET), ``b2cPayment/`` (POST), ``queryTransactionStatus/``
(GET, query parameters) and ``reversal/`` (PUT), under both the sandbox and the production
prefix (``/sandbox/ipg/v2``, ``/openapi/ipg/v2``) and the market's own context only; each also
without its trailing slash. Every answer is JSON ``{"output_ResponseCode": "INS-…", …}`` with the
HTTP status of the PORTAL's tables (openapi_payments.CODES). The ``Origin`` and ``Host`` headers
are accepted whatever they say.

Authorization is ``Bearer base64(RSA PKCS#1 v1.5(public key, secret))``: the secret is the API key
on getSession, the SessionID on every other call. A session that is unknown, not yet live or
expired is refused before anything is read (HTTP 401 INS-6 by default: not documented by Vodacom,
the config's ``openapi_invalid_session_*``).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from mpesa_sim import families, markets, vodacom_api
from mpesa_sim import openapi_payments as rules
from mpesa_sim.openapi_payments import CODES, OPENAPI
from mpesa_sim.state import Simulator
from mpesa_sim.vodacom import SUCCESS
from mpesa_sim.vodacom_api import sim_of as _sim


def answer(code: str, status: int | None = None, **fields) -> JSONResponse:
    body = {"output_ResponseCode": code, "output_ResponseDesc": CODES[code][1], **fields}
    return JSONResponse(body, status_code=status or CODES[code][0])


def reply(code: str, _params=None, row: dict | None = None, status: int | None = None) -> JSONResponse:
    """An answer of the shared flow (vodacom_api): with the row's ids once it is recorded, and its
    receipt when it is paid."""
    if row is None:
        return answer(code, status)
    fields = {}
    if code == SUCCESS and row.get("receipt"):
        fields["output_TransactionID"] = row["receipt"]
    fields["output_ConversationID"] = row["conversation_id"]
    fields["output_ThirdPartyConversationID"] = row["originator_conversation_id"]
    return answer(code, status, **fields)


def _invalid_session(sim: Simulator) -> JSONResponse:
    cfg = sim.config
    body = {
        "output_ResponseCode": cfg["openapi_invalid_session_code"],
        "output_ResponseDesc": cfg["openapi_invalid_session_desc"],
    }
    return JSONResponse(body, status_code=int(cfg["openapi_invalid_session_status"]))


def _bearer_secret(sim: Simulator, request: Request) -> str | None:
    """What the Bearer value decrypts to with the simulator's OpenAPI key, or None."""
    value = vodacom_api.bearer(request)
    return None if value is None else sim.openapi_decryptor.decrypt(value)


async def _session(sim: Simulator, request: Request) -> JSONResponse | None:
    """None when the request's session is live, else the invalid-session answer."""
    session_id = await run_in_threadpool(_bearer_secret, sim, request)
    if (await run_in_threadpool(rules.sessions(sim).state, session_id)) == "live":
        return None
    return _invalid_session(sim)


# -- getSession ---------------------------------------------------------------------------------
async def get_session(request: Request):
    sim = _sim(request)
    api_key = await run_in_threadpool(_bearer_secret, sim, request)
    if api_key is None or not secrets.compare_digest(api_key.encode(), sim.openapi["api_key"].encode()):
        return answer("INS-989")
    session_id = await run_in_threadpool(rules.sessions(sim).create)
    return answer("INS-0", 200, output_SessionID=session_id)


# -- B2C and reversal ---------------------------------------------------------------------------
async def b2c_payment(request: Request):
    return await vodacom_api.transaction(
        request,
        api=OPENAPI,
        authorise=_session,
        reply=reply,
        validate=rules.validate_b2c,
        make_fields=lambda _conn, req, url: rules.b2c_fields(req, url),
        party_b_of=vodacom_api.b2c_party,
    )


async def reversal(request: Request):
    return await vodacom_api.transaction(
        request,
        api=OPENAPI,
        authorise=_session,
        reply=reply,
        validate=rules.validate_reversal,
        make_fields=rules.reversal_fields,
        party_b_of=vodacom_api.reversal_party,
    )


# -- queryTransactionStatus ---------------------------------------------------------------------
async def query_transaction_status(request: Request):
    return await vodacom_api.query(
        request,
        api=OPENAPI,
        authorise=_session,
        reply=reply,
        validate=rules.validate_query,
        reference_field="input_QueryReference",
        not_found="INS-23",
        found=lambda row, query: JSONResponse(
            rules.status_answer(row, query["input_ThirdPartyConversationID"]), status_code=200
        ),
    )


# -- the simulator's own ------------------------------------------------------------------------
async def public_key(request: Request):
    """The public key clients encrypt the API key and the SessionID with: base64 DER
    SubjectPublicKeyInfo, as the portal shows it."""
    return PlainTextResponse(_sim(request).openapi["public_key"])


_ERRORS = {
    status: {"description": "{output_ResponseCode, output_ResponseDesc}"}
    for status in (400, 401, 408, 409, 422)
}
_BODY_FIELDS = {
    "b2c": (
        "input_Amount",
        "input_CustomerMSISDN",
        "input_Country",
        "input_Currency",
        "input_ServiceProviderCode",
        "input_TransactionReference",
        "input_ThirdPartyConversationID",
        "input_PaymentItemsDesc",
    ),
    "reversal": (
        "input_TransactionID",
        "input_ReversalAmount",
        "input_Country",
        "input_ServiceProviderCode",
        "input_ThirdPartyConversationID",
    ),
}


def _body_doc(role: str, market: markets.Market) -> dict:
    props = {name: {"type": "string"} for name in _BODY_FIELDS[role]}
    props["input_Country"] = {"type": "string", "enum": [market.openapi["country"]]}
    if "input_Currency" in props:
        props["input_Currency"] = {"type": "string", "enum": [market.currency]}
    if "input_CustomerMSISDN" in props:
        props["input_CustomerMSISDN"] = {"type": "string", "pattern": market.openapi["msisdn"]}
    required = [name for name in _BODY_FIELDS[role] if name != "input_ReversalAmount"]
    schema = {"type": "object", "required": required, "properties": props}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "security": [{"OpenApiSessionBearer": []}],
    }


def build_router(market: markets.Market) -> APIRouter:
    """The OpenAPI routes of this market's context, under both prefixes."""
    router = APIRouter(tags=["M-Pesa OpenAPI"])
    router.add_api_route(
        "/sim/openapi/public-key",
        public_key,
        methods=["GET"],
        summary="The OpenAPI public key (base64 DER SubjectPublicKeyInfo)",
        response_class=PlainTextResponse,
        tags=["Certificate"],
    )
    query_params = [
        {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
        for name in (
            "input_QueryReference",
            "input_ServiceProviderCode",
            "input_ThirdPartyConversationID",
            "input_Country",
        )
    ]
    routes = (
        ("session", get_session, "GET", "Session (Bearer: the encrypted API key)", {
            "security": [{"OpenApiKeyBearer": []}]
        }),
        ("b2c", b2c_payment, "POST", "B2C single stage", _body_doc("b2c", market)),
        ("status", query_transaction_status, "GET", "Query transaction status", {
            "parameters": query_params, "security": [{"OpenApiSessionBearer": []}]
        }),
        ("reversal", reversal, "PUT", "Reversal of a B2C payment", _body_doc("reversal", market)),
    )  # fmt: skip
    for prefix in markets.OPENAPI_PREFIXES:
        for role, endpoint, method, summary, extra in routes:
            path = f"{prefix}/{market.openapi['context']}/{markets.OPENAPI_APIS[role]}/"
            for each, documented in ((path, True), (path[:-1], False)):
                router.add_api_route(
                    each,
                    endpoint,
                    methods=[method],
                    summary=summary,
                    responses=_ERRORS,
                    openapi_extra=extra,
                    include_in_schema=documented,
                    name=f"openapi_{role}" + ("" if documented else "_no_slash") + prefix.replace("/", "_"),
                )
    return router


def security_schemes(_sim: Simulator) -> dict:
    return {
        "OpenApiKeyBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "base64(RSA PKCS#1 v1.5(public key, API key)); the public key at"
            " /sim/openapi/public-key",
        },
        "OpenApiSessionBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "base64(RSA PKCS#1 v1.5(public key, SessionID from getSession))",
        },
    }


families.register_routes(
    families.Routes(
        family="openapi",
        build=build_router,
        schemes=security_schemes,
        summary="Vodacom's M-Pesa OpenAPI (getSession, B2C single stage with synchronous answers or"
        " asynchronous result callbacks, transaction status, reversal)",
    )
)
