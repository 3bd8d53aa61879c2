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
# The description of an OpenAPI market's simulator (Tanzania, DR Congo, Lesotho, Ghana).
OPENAPI_DESCRIPTION = """A local M-Pesa: Vodacom's M-Pesa OpenAPI (getSession, B2C single stage with
synchronous answers or asynchronous result callbacks, transaction status, reversal), a real ledger
(integer cents, one SQLite transaction per transfer), SMS confirmations, a USSD phone (Africa's
Talking contract), the simple-mpesa routes, and faults switchable at run time. Admin routes need
`Authorization: Bearer <admin token>`."""


def create_app(sim: Simulator) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        sim.stop()

    description = OPENAPI_DESCRIPTION if sim.market.is_openapi else DESCRIPTION
    app = FastAPI(title="M-Pesa simulator", version=__version__, description=description, lifespan=lifespan)
    app.state.sim = sim
    if sim.market.is_openapi:
        from mpesa_sim import openapi_api

        # Vodacom's OpenAPI markets serve its routes, and no Daraja route.
        app.include_router(openapi_api.build_router(sim.market))
    else:
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
            if sim.market.is_openapi:
                schemes["OpenApiKeyBearer"] = {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "base64(RSA PKCS#1 v1.5(public key, API key)); the public key at"
                    " /sim/openapi/public-key",
                }
                schemes["OpenApiSessionBearer"] = {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "base64(RSA PKCS#1 v1.5(public key, SessionID from getSession))",
                }
            else:
                _daraja_schemes(schemes, sim)
            schemes["SimpleMpesaBearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "from /api/login/*",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app


def _daraja_schemes(schemes: dict, sim: Simulator) -> None:
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
