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

import asyncio
import json
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from mpesa_sim import families, markets
from mpesa_sim import openapi_payments as rules
from mpesa_sim.openapi_payments import CODES, OpenApiError
from mpesa_sim.state import Simulator


def _sim(request: Request) -> Simulator:
    return request.app.state.sim


def answer(code: str, status: int | None = None, **fields) -> JSONResponse:
    body = {"output_ResponseCode": code, "output_ResponseDesc": CODES[code][1], **fields}
    return JSONResponse(body, status_code=status or CODES[code][0])


def _invalid_session(sim: Simulator) -> JSONResponse:
    cfg = sim.config
    body = {
        "output_ResponseCode": cfg["openapi_invalid_session_code"],
        "output_ResponseDesc": cfg["openapi_invalid_session_desc"],
    }
    return JSONResponse(body, status_code=int(cfg["openapi_invalid_session_status"]))


def _bearer_secret(sim: Simulator, request: Request) -> str | None:
    """What the Bearer value decrypts to with the simulator's OpenAPI key, or None."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return sim.openapi_decryptor.decrypt(value.strip())


async def _session_live(sim: Simulator, request: Request) -> bool:
    session_id = await run_in_threadpool(_bearer_secret, sim, request)
    return (await run_in_threadpool(rules.sessions(sim).state, session_id)) == "live"


async def _json_body(request: Request):
    """The body as parsed JSON ({} when empty); OpenApiError INS-21 when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise OpenApiError("INS-21") from None


async def _sync_faults(sim: Simulator, party_b: str | None) -> tuple[JSONResponse | None, dict | None]:
    """Faults that act before processing: (an answer instead of processing, the ins_1 rule to
    answer after processing)."""
    rule = sim.faults.fire("slow_response", party_b)
    if rule:
        await asyncio.sleep(rule["delay_ms"] / 1000)
    if sim.faults.fire("sync_500", party_b):
        return answer("INS-1", 500), None
    ins_1 = sim.faults.fire("ins_1", party_b)
    if ins_1 and not ins_1["processed"]:
        return answer("INS-1"), None
    return None, ins_1


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


# -- getSession ---------------------------------------------------------------------------------
async def get_session(request: Request):
    sim = _sim(request)
    api_key = await run_in_threadpool(_bearer_secret, sim, request)
    if api_key is None or not secrets.compare_digest(api_key.encode(), sim.openapi["api_key"].encode()):
        return answer("INS-989")
    session_id = await run_in_threadpool(rules.sessions(sim).create)
    return answer("INS-0", 200, output_SessionID=session_id)


# -- B2C and reversal ---------------------------------------------------------------------------
async def _transaction(request: Request, validate, make_fields, party_b_of):
    """The shared flow of b2cPayment and reversal: session, faults, validation, processing
    (sync: settled before the answer; async: queued, the result posted to the callback URL)."""
    sim = _sim(request)
    sim.api_requests.record(request.url.path)  # before any check: every start counts
    if not await _session_live(sim, request):
        return _invalid_session(sim)
    try:
        body = await _json_body(request)
    except OpenApiError as exc:
        return answer(exc.code)
    party_b = await run_in_threadpool(party_b_of, sim, body)
    refused, ins_1 = await _sync_faults(sim, party_b)
    if refused:
        return refused
    try:
        req = validate(sim, body)
    except OpenApiError as exc:
        return answer(exc.code)
    url = str(sim.config.get("openapi_callback_url") or "")

    def fields(conn):
        return make_fields(conn, req, url)

    sync = sim.config.get("openapi_b2c_mode", "sync") != "async"
    lost = bool(sync and sim.faults.fire("lost_result", party_b))
    if sync:
        row = await run_in_threadpool(rules.process_now, sim, fields, lost)
    else:
        row = await run_in_threadpool(rules.accept, sim, fields)
    answer_lost = sim.faults.fire("sync_500_processed", party_b)
    if ins_1:
        return answer("INS-1")
    if answer_lost or lost:
        return answer("INS-9")
    if row is None:
        return answer("INS-10")  # this ThirdPartyConversationID was received before
    ids = {
        "output_ConversationID": row["conversation_id"],
        "output_ThirdPartyConversationID": row["originator_conversation_id"],
    }
    if not sync:
        return answer("INS-0", **ids)
    if row["result_code"] != rules.SUCCESS:
        return answer(row["result_code"], **ids)
    return answer(
        "INS-0",
        output_TransactionID=row["receipt"],
        output_ConversationID=row["conversation_id"],
        output_ThirdPartyConversationID=row["originator_conversation_id"],
    )


def _b2c_party(_sim: Simulator, body) -> str | None:
    return _text(body.get("input_CustomerMSISDN")) if isinstance(body, dict) else None


def _reversal_party(sim: Simulator, body) -> str | None:
    """The reversed payment's customer, for the faults' number patterns."""
    receipt = _text(body.get("input_TransactionID")) if isinstance(body, dict) else None
    if not receipt:
        return None
    row = sim.db.one("SELECT party_b FROM transactions WHERE receipt = ? AND kind = 'b2c'", (receipt,))
    return row["party_b"] if row else None


async def b2c_payment(request: Request):
    return await _transaction(
        request,
        rules.validate_b2c,
        lambda _conn, req, url: rules.b2c_fields(req, url),
        _b2c_party,
    )


async def reversal(request: Request):
    return await _transaction(request, rules.validate_reversal, rules.reversal_fields, _reversal_party)


# -- queryTransactionStatus ---------------------------------------------------------------------
async def query_transaction_status(request: Request):
    sim = _sim(request)
    sim.api_requests.record(request.url.path)
    if not await _session_live(sim, request):
        return _invalid_session(sim)
    refused, ins_1 = await _sync_faults(sim, None)
    if refused:
        return refused
    try:
        query = rules.validate_query(sim, dict(request.query_params))
    except OpenApiError as exc:
        return answer(exc.code)
    row = await run_in_threadpool(rules.find_for_query, sim, query["input_QueryReference"])
    if ins_1:
        return answer("INS-1")
    if sim.faults.fire("sync_500_processed") or (row is not None and row["silent"]):
        return answer("INS-9")  # lost_result: every answer about it is lost
    if row is None:
        return answer("INS-23")
    return JSONResponse(rules.status_answer(row, query["input_ThirdPartyConversationID"]), status_code=200)


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
