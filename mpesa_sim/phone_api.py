"""The beneficiary's phone: USSD over Africa's Talking's callback contract."""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from mpesa_sim import markets, ussd

router = APIRouter(tags=["Phone"])

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["sessionId", "phoneNumber"],
                    "properties": {
                        "sessionId": {"type": "string"},
                        "serviceCode": {"type": "string", "example": "*334#"},
                        "phoneNumber": {"type": "string", "example": "+254712345678"},
                        "networkCode": {"type": "string", "example": "63902"},
                        "text": {"type": "string", "example": "1*1234"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/ussd",
    summary="USSD callback (Africa's Talking contract); answers text/plain 'CON ...' or 'END ...'",
    response_class=PlainTextResponse,
    openapi_extra=_FORM,
)
async def ussd_callback(request: Request):
    # Parsed by hand: python-multipart is not a dependency, and AT only ever sends urlencoded.
    raw = (await request.body()).decode("utf-8", "replace")
    fields = {k: v[-1] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
    phone = fields.get("phoneNumber", "").strip()
    if not phone:
        return PlainTextResponse("END Invalid request: phoneNumber is required.")
    sim = request.app.state.sim
    code = fields.get("serviceCode", "").strip()
    if code != sim.market.ussd_code and code in {m.ussd_code for m in markets.MARKETS.values()}:
        # Another market's M-PESA code (*334# dialled at an Ethiopian simulator, or *733# at a
        # Kenyan one): no such application here.
        return PlainTextResponse(
            f"END UNKNOWN APPLICATION. This simulator answers {sim.market.ussd_code} (M-PESA)."
        )
    return PlainTextResponse(ussd.handle(sim.db.conn(), phone, fields.get("text", ""), sim.config))
