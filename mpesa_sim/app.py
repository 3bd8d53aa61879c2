"""The FastAPI application: every router on one simulator instance."""

from __future__ import annotations

import contextlib

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mpesa_sim import (
    __version__,
    admin_api,
    console_api,
    daraja_api,
    families,
    mz_api,
    openapi_api,
    phone_api,
    simple_mpesa,
)
from mpesa_sim.state import Simulator

# Every API family's routes: importing them registers each family (its processing module, then
# its routes) in families.py, where the state and create_app find them. A new family adds its
# module here.
FAMILY_ROUTES = (daraja_api, openapi_api, mz_api)

DESCRIPTION = """A local M-Pesa: {apis}, a real ledger (integer cents, one SQLite transaction per
transfer), SMS confirmations, a USSD phone (Africa's Talking contract), the simple-mpesa routes, and
faults switchable at run time. Admin routes need `Authorization: Bearer <admin token>`."""


def create_app(sim: Simulator) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        sim.stop()

    # The market's API families: Daraja (Kenya, Ethiopia) or Vodacom's OpenAPI (Tanzania, DR Congo,
    # Lesotho, Ghana, Mozambique) and, in Mozambique, Vodacom Mozambique's own API.
    served = families.routes(sim.market)
    description = DESCRIPTION.format(apis="; ".join(r.summary for r in served))
    app = FastAPI(title="M-Pesa simulator", version=__version__, description=description, lifespan=lifespan)
    app.state.sim = sim
    for routes in served:
        app.include_router(routes.build(sim.market))
    app.include_router(admin_api.public)
    app.include_router(admin_api.router)
    app.include_router(admin_api.phones)
    app.include_router(phone_api.router)
    app.include_router(simple_mpesa.router)
    console_api.install(app)  # the /phone and /console pages

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            for routes in served:
                schemes.update(routes.schemes(sim))
            schemes["SimpleMpesaBearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "from /api/login/*",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app
