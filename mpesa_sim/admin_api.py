"""Admin routes (/sim/admin/*, Bearer admin token) and the public certificate download."""

from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mpesa_sim import credentials, directory, families, faults, ledger, statement
from mpesa_sim.state import Simulator, max_in_window

_bearer = HTTPBearer(
    auto_error=False, scheme_name="AdminBearer", description="The admin token printed at start-up"
)


def require_admin(
    request: Request, auth: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    sim: Simulator = request.app.state.sim
    if auth is None or not secrets.compare_digest(auth.credentials.encode(), sim.admin_token.encode()):
        raise HTTPException(401, "admin token required (Authorization: Bearer <admin token>)")


public = APIRouter(tags=["Certificate"])
router = APIRouter(prefix="/sim/admin", tags=["Admin"], dependencies=[Depends(require_admin)])
phones = APIRouter(prefix="/sim/phones", tags=["Phone"], dependencies=[Depends(require_admin)])


def _sim(request: Request) -> Simulator:
    return request.app.state.sim


@public.get("/sim/certificate.pem", summary="The certificate to encrypt the initiator password with (PEM)")
def certificate_pem(request: Request):
    return Response(_sim(request).certificate_pem, media_type="application/x-pem-file")


@public.get("/sim/certificate.cer", summary="The same certificate, DER")
def certificate_cer(request: Request):
    return Response(
        credentials.certificate_der(_sim(request).certificate_pem), media_type="application/pkix-cert"
    )


@router.get("/info", summary="Credentials, shortcode and demo logins")
def info(request: Request):
    from mpesa_sim import organisation

    sim = _sim(request)
    answer = {
        **sim.org,
        "initiator": sim.db.get_setting("initiator"),
        "config": sim.config,
        "market": sim.market.public(),
        "simple_mpesa": {"agent": organisation.DEMO_AGENT, "administrator": organisation.DEMO_ADMIN},
    }
    # Each served API family's own settings (an OpenAPI market's "openapi": API key, public key...).
    for family in families.serving(sim.market):
        if family.info is not None:
            answer[family.name] = family.info(sim)
    return answer


@router.get("/config")
def get_config(request: Request):
    return _sim(request).config


@router.put("/config", summary="Change limits, token lifetime, lock threshold, callback settings")
def put_config(request: Request, changes: Annotated[dict[str, Any], Body()]):
    try:
        return _sim(request).update_config(changes)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/initiator", summary="Consecutive credential failures and lock state")
def get_initiator(request: Request):
    return _sim(request).db.get_setting("initiator")


@router.post("/initiator/unlock", summary="Unlock the initiator after repeated wrong credentials (8006)")
def unlock_initiator(request: Request):
    sim = _sim(request)
    sim.unlock_initiator()
    return sim.db.get_setting("initiator")


# -- wallets, tills, seeding, float -------------------------------------------------------------
def _seed(sim: Simulator, data: Any) -> dict:
    try:
        with sim.db.write() as conn:
            return directory.seed(conn, data)
    except (directory.SeedError, sqlite3.IntegrityError) as exc:
        raise HTTPException(400, str(exc)) from None


@router.post("/seed", summary='Create/update wallets and tills: {"wallets": [...], "tills": [...]}')
def seed(request: Request, data: Annotated[Any, Body()]):
    return _seed(_sim(request), data if not isinstance(data, list) else {"wallets": data})


@router.get("/wallets")
def list_wallets(request: Request, limit: int = 500, offset: int = 0):
    db = _sim(request).db
    rows = db.all(
        "SELECT msisdn FROM wallets ORDER BY msisdn LIMIT ? OFFSET ?",
        (min(max(limit, 0), 10000), min(max(offset, 0), 2**62)),
    )
    conn = db.conn()
    return [directory.wallet_view(conn, r["msisdn"]) for r in rows]


@router.post("/wallets", summary="Create or update one wallet or a list of wallets")
def create_wallets(request: Request, data: Annotated[Any, Body()]):
    result = _seed(_sim(request), {"wallets": data if isinstance(data, list) else [data]})
    return result["wallets"] if isinstance(data, list) else result["wallets"][0]


@router.get("/wallets/{msisdn}")
def get_wallet(request: Request, msisdn: str):
    view = directory.wallet_view(_sim(request).db.conn(), directory.normalise_msisdn(msisdn))
    if view is None:
        raise HTTPException(404, "no such wallet")
    return view


@router.patch("/wallets/{msisdn}", summary="Freeze/unfreeze, (un)register, change PIN (also unlocks the PIN)")
def patch_wallet(request: Request, msisdn: str, changes: Annotated[dict[str, Any], Body()]):
    sim = _sim(request)
    msisdn = directory.normalise_msisdn(msisdn)
    if directory.wallet_view(sim.db.conn(), msisdn) is None:
        raise HTTPException(404, "no such wallet")
    if changes.get("unlock_pin"):
        with sim.db.write() as conn:
            conn.execute("UPDATE wallets SET pin_failures = 0 WHERE msisdn = ?", (msisdn,))
    changes = {k: v for k, v in changes.items() if k != "unlock_pin"}
    return _seed(sim, {"wallets": [{**changes, "msisdn": msisdn}]})["wallets"][0]


@router.get("/tills")
def list_tills(request: Request):
    db = _sim(request).db
    return [directory.till_view(db.conn(), r["till_number"]) for r in db.all("SELECT till_number FROM tills")]


@router.post("/tills", summary="Create or update a vendor till")
def create_till(request: Request, data: Annotated[Any, Body()]):
    result = _seed(_sim(request), {"tills": data if isinstance(data, list) else [data]})
    return result["tills"] if isinstance(data, list) else result["tills"][0]


@router.post(
    "/float/topup", summary='Top up the Utility or Working account: {"account": "utility", "amount": 1000}'
)
def topup(request: Request, data: Annotated[dict[str, Any], Body()]):
    sim = _sim(request)
    ref = {"utility": ledger.UTILITY, "working": ledger.WORKING}.get(
        str(data.get("account", "utility")).lower()
    )
    if ref is None:
        raise HTTPException(400, "account: utility or working")
    try:
        cents = directory._cents(data.get("amount"), "amount")
        if cents <= 0 or cents > 10**15:
            raise directory.SeedError("amount: positive, in shillings")
    except directory.SeedError as exc:
        raise HTTPException(400, str(exc)) from None
    with sim.db.write() as conn:
        ledger.topup(conn, ref, cents, str(data.get("reason") or "float top-up (admin)"))
        return {"account": ref, "balance_cents": ledger.balance(conn, ref)}


@router.get("/accounts", summary="Every account with its balance in cents")
def accounts(request: Request, kind: str | None = None):
    db = _sim(request).db
    sql = "SELECT ref, kind, name, balance_cents FROM accounts"
    rows = db.all(sql + " WHERE kind = ? ORDER BY id", (kind,)) if kind else db.all(sql + " ORDER BY id")
    return [dict(r) for r in rows]


@router.get("/ledger/check", summary="Conservation check: sum of balances == sum of recorded top-ups")
def ledger_check(request: Request):
    with _sim(request).db.snapshot() as conn:
        return ledger.check_invariant(conn)


@router.get(
    "/statement",
    summary="The Utility account statement (org portal export): CSV or XLSX, completed rows, newest first",
    response_class=Response,
    responses={
        200: {"content": {media: {} for media in statement.FORMATS.values()}},
        400: {"description": "bad period or format"},
    },
)
def statement_export(
    request: Request,
    from_: Annotated[
        str | None,
        Query(alias="from", description="ISO 8601 date or datetime; naive = Kenyan time; default today"),
    ] = None,
    to: Annotated[str | None, Query(description="the same; a date means its last second")] = None,
    format: Annotated[str, Query(description="csv or xlsx")] = "csv",
):
    sim = _sim(request)
    try:
        with sim.db.snapshot() as conn:
            data, filename, media = statement.export(conn, sim.org, from_, to, format.lower())
    except statement.StatementError as exc:
        raise HTTPException(400, str(exc)) from None
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


# -- transactions, SMS, callbacks ---------------------------------------------------------------
def transaction_view(row: sqlite3.Row) -> dict:
    view = {k: row[k] for k in row.keys() if k != "request_json"}
    view["amount"] = row["amount_cents"] / 100
    if row["request_json"]:
        request = json.loads(row["request_json"])
        request.pop("SecurityCredential", None)
        view["request"] = request
    return view


@router.get("/transactions", summary="Ledger transactions, newest first")
def transactions(
    request: Request,
    originator_conversation_id: str | None = None,
    conversation_id: str | None = None,
    receipt: str | None = None,
    msisdn: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 100,
):
    where, params = [], []
    for column, value in (
        ("originator_conversation_id", originator_conversation_id),
        ("conversation_id", conversation_id),
        ("receipt", receipt),
        ("status", status),
        ("kind", kind),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if msisdn is not None:
        ref = directory.wallet_ref(directory.normalise_msisdn(msisdn))
        where.append("(from_account = ? OR to_account = ?)")
        params += [ref, ref]
    sql = "SELECT * FROM transactions" + (" WHERE " + " AND ".join(where) if where else "")
    rows = _sim(request).db.all(sql + " ORDER BY id DESC LIMIT ?", (*params, min(max(limit, 0), 10000)))
    return [transaction_view(r) for r in rows]


def _sms(sim: Simulator, msisdn: str | None, limit: int) -> list[dict]:
    if msisdn:
        rows = sim.db.all(
            "SELECT * FROM sms WHERE msisdn = ? ORDER BY id DESC LIMIT ?",
            (directory.normalise_msisdn(msisdn), min(max(limit, 0), 10000)),
        )
    else:
        rows = sim.db.all("SELECT * FROM sms ORDER BY id DESC LIMIT ?", (min(max(limit, 0), 10000),))
    return [dict(r) for r in rows]


@router.get("/sms", summary="SMS sent to phones, newest first")
def sms_inbox(request: Request, msisdn: str | None = None, limit: int = 100):
    return _sms(_sim(request), msisdn, limit)


@phones.get("/{msisdn}/sms", summary="One phone's SMS inbox, newest first")
def phone_sms(request: Request, msisdn: str, limit: int = 100):
    return _sms(_sim(request), msisdn, limit)


def callback_view(row: sqlite3.Row | dict) -> dict:
    view = dict(row)
    view["delivered"] = bool(view["delivered"])
    view["body"] = json.loads(view["body"])
    return view


@router.get("/callbacks", summary="Every callback attempt (delivered or not), newest first")
def callbacks(
    request: Request,
    originator_conversation_id: str | None = None,
    url: str | None = None,
    delivered: bool | None = None,
    limit: int = 100,
):
    sim = _sim(request)
    sim.dispatcher.flush(2.0)
    where, params = [], []
    if originator_conversation_id is not None:
        where.append("originator_conversation_id = ?")
        params.append(originator_conversation_id)
    if url is not None:
        where.append("url = ?")
        params.append(url)
    if delivered is not None:
        where.append("delivered = ?")
        params.append(int(delivered))
    sql = "SELECT * FROM callbacks" + (" WHERE " + " AND ".join(where) if where else "")
    rows = sim.db.all(sql + " ORDER BY id DESC LIMIT ?", (*params, min(max(limit, 0), 10000)))
    return [callback_view(r) for r in rows]


@router.post("/callbacks/{callback_id}/replay", summary="Deliver a recorded callback again, now")
def replay_callback(request: Request, callback_id: int):
    record = _sim(request).dispatcher.replay(callback_id) if 0 < callback_id < 2**63 else None
    if record is None:
        raise HTTPException(404, "no such callback")
    return callback_view(record)


# -- faults -------------------------------------------------------------------------------------
@router.get("/faults", summary="Current fault switches and the known kinds")
def get_faults(request: Request):
    return {**_sim(request).faults.config, "kinds": faults.KINDS}


@router.put(
    "/faults", summary='Replace the fault switches: {"seed": 1, "faults": {"sync_500": {"rate": 0.5}}}'
)
def put_faults(request: Request, config: Annotated[Any, Body()]):
    try:
        return _sim(request).faults.set(config)
    except faults.FaultError as exc:
        raise HTTPException(400, str(exc)) from None


@router.post("/reset-faults", summary="Switch every fault off")
def reset_faults(request: Request):
    return _sim(request).faults.reset()


@router.get("/stats", summary="Counts of faults injected, by kind, and of transactions by status")
def stats(request: Request):
    sim = _sim(request)
    by_status = {
        r["status"]: r["n"]
        for r in sim.db.all("SELECT status, COUNT(*) AS n FROM transactions GROUP BY status")
    }
    return {"faults_injected": sim.faults.stats(), "transactions": by_status}


@router.get(
    "/requests",
    summary="Daraja API requests received (B2C, status, balance): their times, and the most in any window",
)
def api_requests(request: Request, since: float = 0.0, window: float = 1.0, times: bool = False):
    if not window > 0:
        raise HTTPException(400, "window must be positive")
    entries = _sim(request).api_requests.since(since)
    by_path: dict[str, int] = {}
    for _at, path in entries:
        by_path[path] = by_path.get(path, 0) + 1
    answer = {
        "total": len(entries),
        "window": window,
        "max_in_window": max_in_window([at for at, _path in entries], window),
        "first": entries[0][0] if entries else None,
        "last": entries[-1][0] if entries else None,
        "by_path": by_path,
    }
    if times:
        answer["requests"] = [{"at": at, "path": path} for at, path in entries]
    return answer


@router.post("/drain", summary="Wait until accepted requests are processed and due callbacks sent")
def drain(request: Request, timeout: float = 10.0):
    _sim(request).drain(min(max(timeout, 0.0), 60.0))
    return {"drained": True}
