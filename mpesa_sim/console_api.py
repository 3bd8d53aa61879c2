"""The web pages (``/phone``, ``/console``) and the few admin routes only the console needs.

The pages are static files (``mpesa_sim/static/``, vanilla JS, nothing fetched from elsewhere).
They hold no secret: the user pastes the admin token printed at start-up, and the pages call
the admin API with it. The phone drives the same USSD application as ``POST /ussd`` (it posts
there) and reads the SMS inbox from ``/sim/phones/{msisdn}/sms``.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from mpesa_sim import directory, ledger, markets, receipts
from mpesa_sim.admin_api import require_admin
from mpesa_sim.state import Simulator

STATIC = Path(__file__).parent / "static"

router = APIRouter(prefix="/sim/admin/console", tags=["Console"], dependencies=[Depends(require_admin)])
pages = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """Register the pages, their assets and the console routes on the simulator's app."""
    app.include_router(router)
    app.include_router(pages)
    app.mount("/sim/static", StaticFiles(directory=STATIC), name="sim-static")


def _sim(request: Request) -> Simulator:
    return request.app.state.sim


_NO_STORE = {"Cache-Control": "no-store"}


@pages.get("/phone")
def phone_page():
    return FileResponse(STATIC / "phone.html", media_type="text/html", headers=_NO_STORE)


@pages.get("/console")
def console_page():
    return FileResponse(STATIC / "console.html", media_type="text/html", headers=_NO_STORE)


@pages.get("/sim")
def sim_index():
    return RedirectResponse("/console")


@pages.get("/sim/market")
def market_info(request: Request):
    """The market this simulator is (country, currency, USSD code, number plan): public, no secret."""
    return _sim(request).market.public()


@router.get("/overview", summary="Float balances and counts for the console's header")
def overview(request: Request):
    db = _sim(request).db
    conn = db.conn()
    callbacks = db.one(
        "SELECT COUNT(*) AS total, COALESCE(SUM(delivered), 0) AS delivered,"
        " AVG(CASE WHEN delivered = 1 THEN latency_ms END) AS avg_latency_ms FROM callbacks"
    )
    by_status = {
        r["status"]: r["n"]
        for r in db.all("SELECT status, COUNT(*) AS n FROM transactions WHERE kind = 'b2c' GROUP BY status")
    }
    return {
        "utility_cents": ledger.balance(conn, ledger.UTILITY),
        "working_cents": ledger.balance(conn, ledger.WORKING),
        "wallets": db.one("SELECT COUNT(*) AS n FROM wallets")["n"],
        "tills": db.one("SELECT COUNT(*) AS n FROM tills")["n"],
        "b2c": by_status,
        "callbacks": {
            "total": callbacks["total"],
            "delivered": callbacks["delivered"],
            "failed": callbacks["total"] - callbacks["delivered"],
            "avg_latency_ms": round(callbacks["avg_latency_ms"] or 0.0, 3),
        },
    }


@router.get("/wallets", summary="Wallets whose number or name contains q (0712... and +254... work too)")
def search_wallets(request: Request, q: str = "", limit: int = 50):
    db = _sim(request).db
    q = q.strip()[:64]
    digits = q.lstrip("+").replace(" ", "")
    if digits.isdigit() and digits.startswith("0"):
        digits = markets.current().country_code + digits[1:]
    limit = min(max(limit, 1), 500)
    if q:
        rows = db.all(
            "SELECT msisdn FROM wallets WHERE instr(msisdn, ?) > 0"
            " OR instr(lower(first_name || ' ' || last_name), lower(?)) > 0 ORDER BY msisdn LIMIT ?",
            (digits if digits.isdigit() else q, q, limit),
        )
    else:
        rows = db.all("SELECT msisdn FROM wallets ORDER BY msisdn LIMIT ?", (limit,))
    conn = db.conn()
    return [directory.wallet_view(conn, r["msisdn"]) for r in rows]


def _epoch(second: str) -> int:
    """'2026-01-02T10:15:07' (Kenya time, as stored) -> Unix seconds."""
    return int(dt.datetime.fromisoformat(second).replace(tzinfo=receipts.KENYA).timestamp())


@router.get("/activity", summary="B2C requests and results by ResultCode, per second, over the last minutes")
def activity(request: Request, minutes: float = 5):
    if not math.isfinite(minutes) or not 0 < minutes <= 60:
        raise HTTPException(400, "minutes: more than 0, at most 60")
    db = _sim(request).db
    seconds = max(10, int(minutes * 60))
    end = int(time.time())
    start = end - seconds + 1
    since = receipts.iso(dt.datetime.fromtimestamp(start, receipts.KENYA))
    requests = [0] * seconds
    for row in db.all(
        "SELECT substr(created_at, 1, 19) AS s, COUNT(*) AS n FROM transactions"
        " WHERE kind = 'b2c' AND created_at >= ? GROUP BY s",
        (since,),
    ):
        index = _epoch(row["s"]) - start
        if 0 <= index < seconds:
            requests[index] += row["n"]
    results: dict[str, list[int]] = {}
    for row in db.all(
        "SELECT substr(finalised_at, 1, 19) AS s, result_code AS code, COUNT(*) AS n FROM transactions"
        " WHERE kind = 'b2c' AND finalised_at >= ? AND result_code IS NOT NULL GROUP BY s, code",
        (since,),
    ):
        index = _epoch(row["s"]) - start
        if 0 <= index < seconds:
            results.setdefault(row["code"], [0] * seconds)[index] += row["n"]
    descriptions = {
        row["code"]: row["result_desc"]
        for row in db.all(
            "SELECT result_code AS code, result_desc FROM transactions"
            " WHERE kind = 'b2c' AND finalised_at >= ? AND result_code IS NOT NULL GROUP BY code",
            (since,),
        )
    }
    return {
        "start": start,
        "end": end,
        "seconds": seconds,
        "requests": requests,
        "results": results,
        "totals": {
            "requests": sum(requests),
            "results": {code: sum(counts) for code, counts in sorted(results.items(), key=_code_order)},
        },
        "descriptions": descriptions,
    }


def _code_order(item: tuple[str, list[int]]) -> tuple[int, str]:
    code = item[0]
    return (int(code), code) if code.lstrip("-").isdigit() else (10**9, code)
