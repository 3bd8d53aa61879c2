"""The request flow Vodacom's two APIs share (the M-Pesa OpenAPI: openapi_api.py; Vodacom
Mozambique's own API: mz_api.py): authentication, the JSON body, the synchronous faults, validation,
synchronous or asynchronous processing (vodacom.py), and the answers the faults and a duplicate
reference make. Each API gives its own authentication, validation and answer shape.

Faults, as for the OpenAPI (faults.py): ``slow_response`` delays the answer; ``sync_500`` answers
HTTP 500 INS-1 unprocessed; ``ins_1`` answers INS-1 (processed or not, its ``processed``);
``sync_500_processed`` processes and answers 408 INS-9; ``lost_result`` processes, answers 408 INS-9
(synchronous mode) or sends no callback (asynchronous), and every later status query about it is
408 INS-9; ``spike_arrest`` (Mozambique only) answers 503 INS-16 unprocessed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mpesa_sim.state import Simulator
from mpesa_sim.vodacom import SUCCESS, InsApi, InsError

# (simulator, request) -> an answer refusing it (authentication), or None to go on
Authorise = Callable[[Simulator, Request], Awaitable[JSONResponse | None]]
# (INS code, the request's parameters (or None), its row (or None), HTTP status (None: the code's))
Reply = Callable[..., JSONResponse]


def sim_of(request: Request) -> Simulator:
    return request.app.state.sim


def bearer(request: Request) -> str | None:
    """The value after ``Authorization: Bearer``, or None."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def text(value) -> str | None:
    return value if isinstance(value, str) else None


def b2c_party(_sim: Simulator, body) -> str | None:
    """A B2C request's customer (input_CustomerMSISDN), for the faults' number patterns."""
    return text(body.get("input_CustomerMSISDN")) if isinstance(body, dict) else None


def reversal_party(sim: Simulator, body) -> str | None:
    """The customer of the payment a reversal names (input_TransactionID), for the faults'
    number patterns."""
    receipt = text(body.get("input_TransactionID")) if isinstance(body, dict) else None
    if not receipt:
        return None
    row = sim.db.one("SELECT party_b FROM transactions WHERE receipt = ? AND kind = 'b2c'", (receipt,))
    return row["party_b"] if row else None


async def json_body(request: Request):
    """The body as parsed JSON ({} when empty); InsError INS-21 when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InsError("INS-21") from None


async def sync_faults(
    sim: Simulator, party_b: str | None, reply: Reply, params: Any, overload: str | None = None
) -> tuple[JSONResponse | None, dict | None]:
    """Faults that act before processing: (an answer instead of processing, the ins_1 rule to
    answer after processing). ``overload``: the API's code for spike_arrest (None: not applied)."""
    rule = sim.faults.fire("slow_response", party_b)
    if rule:
        await asyncio.sleep(rule["delay_ms"] / 1000)
    if overload and sim.faults.fire("spike_arrest", party_b):
        return reply(overload, params), None
    if sim.faults.fire("sync_500", party_b):
        return reply("INS-1", params, status=500), None
    ins_1 = sim.faults.fire("ins_1", party_b)
    if ins_1 and not ins_1["processed"]:
        return reply("INS-1", params), None
    return None, ins_1


async def transaction(
    request: Request,
    *,
    api: InsApi,
    authorise: Authorise,
    reply: Reply,
    validate: Callable[[Simulator, Any], dict],
    make_fields: Callable[[Any, dict, str], dict],
    party_b_of: Callable[[Simulator, Any], str | None],
    overload: str | None = None,
) -> JSONResponse:
    """A B2C or reversal request: authentication, faults, validation, processing (sync: settled
    before the answer; async: queued, the result posted to the callback URL)."""
    sim = sim_of(request)
    sim.api_requests.record(request.url.path)  # before any check: every start counts
    refused = await authorise(sim, request)
    if refused is not None:
        return refused
    try:
        body = await json_body(request)
    except InsError as exc:
        return reply(exc.code, None)
    party_b = await run_in_threadpool(party_b_of, sim, body)
    refused, ins_1 = await sync_faults(sim, party_b, reply, body, overload)
    if refused:
        return refused
    try:
        req = validate(sim, body)
    except InsError as exc:
        return reply(exc.code, body)
    url = str(sim.config.get("openapi_callback_url") or "")

    def fields(conn):
        return make_fields(conn, req, url)

    sync = sim.config.get("openapi_b2c_mode", "sync") != "async"
    lost = bool(sync and sim.faults.fire("lost_result", party_b))
    if sync:
        row = await run_in_threadpool(api.process_now, sim, fields, lost)
    else:
        row = await run_in_threadpool(api.accept, sim, fields)
    answer_lost = sim.faults.fire("sync_500_processed", party_b)
    if ins_1:
        return reply("INS-1", body)
    if answer_lost or lost:
        return reply("INS-9", body)
    if row is None:
        return reply("INS-10", body)  # this reference was received before
    if not sync:
        return reply(SUCCESS, body, row)  # accepted: the row is pending, without a receipt
    return reply(row["result_code"], body, row)


async def query(
    request: Request,
    *,
    api: InsApi,
    authorise: Authorise,
    reply: Reply,
    validate: Callable[[Simulator, dict], dict],
    reference_field: str,
    not_found: str,
    found: Callable[[Any, dict], JSONResponse],
    overload: str | None = None,
) -> JSONResponse:
    """queryTransactionStatus (GET, query parameters): the transaction its ``reference_field``
    names, answered by ``found(row, parameters)``; ``not_found`` is the code when there is none."""
    sim = sim_of(request)
    sim.api_requests.record(request.url.path)
    refused = await authorise(sim, request)
    if refused is not None:
        return refused
    params = dict(request.query_params)
    refused, ins_1 = await sync_faults(sim, None, reply, params, overload)
    if refused:
        return refused
    try:
        values = validate(sim, params)
    except InsError as exc:
        return reply(exc.code, params)
    row = await run_in_threadpool(api.find_for_query, sim, values[reference_field])
    if ins_1:
        return reply("INS-1", params)
    if sim.faults.fire("sync_500_processed") or (row is not None and row["silent"]):
        return reply("INS-9", params)  # lost_result: every answer about it is lost
    if row is None:
        return reply(not_found, params)
    return found(row, values)
