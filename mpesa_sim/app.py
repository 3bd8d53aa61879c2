"""The FastAPI application: every router on one simulator instance."""

from __future__ import annotations

import contextlib

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mpesa_sim import __version__, admin_api, daraja_api
from mpesa_sim.state import Simulator

DESCRIPTION = """A local M-Pesa: Daraja B2C with asynchronous result callbacks, transaction status and
account balance, a real ledger (integer cents, one SQLite transaction per transfer), SMS
confirmations, a USSD phone (Africa's Talking contract), the simple-mpesa routes, and faults
switchable at run time. Admin routes need `Authorization: Bearer <admin token>`."""


def create_app(sim: Simulator) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        sim.stop()

    app = FastAPI(title="M-Pesa simulator", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.sim = sim
    app.include_router(daraja_api.build_router(sim.market))
    app.include_router(admin_api.public)
    app.include_router(admin_api.router)
    app.include_router(admin_api.phones)
    from mpesa_sim import console_api, phone_api, simple_mpesa

    app.include_router(phone_api.router)
    app.include_router(simple_mpesa.router)
    console_api.install(app)  # the /phone and /console pages

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["DarajaBearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "from " + sim.market.api_paths["token"],
            }
            schemes["DarajaBasic"] = {
                "type": "http",
                "scheme": "basic",
                "description": "consumer key and secret",
            }
            schemes["SimpleMpesaBearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "from /api/login/*",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app
