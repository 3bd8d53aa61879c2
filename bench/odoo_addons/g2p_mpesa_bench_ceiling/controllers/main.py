import json

from odoo import http
from odoo.http import request


class BenchCeilingController(http.Controller):
    # Routed like the M-Pesa result callback (public, plain HTTP, no CSRF, no session saved, a
    # JSON body read) but doing only its unavoidable database work: lock one row, update it.
    @http.route(
        "/g2p_mpesa_bench/ceiling/<int:row>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def ceiling(self, row, **_kwargs):
        body = json.loads(request.httprequest.get_data() or b"{}")
        cr = request.env.cr
        cr.execute("SELECT id FROM g2p_mpesa_bench_counter WHERE id = %s FOR UPDATE", [row])
        cr.execute("UPDATE g2p_mpesa_bench_counter SET hits = hits + 1 WHERE id = %s", [row])
        return request.make_json_response({"ResultCode": 0, "ResultDesc": "Accepted", "n": len(body)})
