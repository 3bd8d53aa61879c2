"""The simulator records when each Daraja API request arrived, so a client's real rate is seen."""

import time

from conftest import b2c_body, query_body

from mpesa_sim.state import max_in_window


def test_max_in_window_counts_a_half_open_second():
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 0.5, 0.999], 1.0) == 3
    # [t, t+1): a start exactly one second later belongs to the next window.
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert max_in_window([0.0, 0.05 * 19, 1.0, 1.01], 1.0) == 3
    assert max_in_window([3.0, 0.0, 0.1, 2.95], 1.0) == 2  # order does not matter
    spaced = [k / 16 for k in range(160)]  # exact in binary: no rounding at the window edge
    assert max_in_window(spaced, 1.0) == 16


def test_every_api_request_is_recorded_even_a_refused_one(sim, callback_sink, new_wallet):
    since = time.time()
    token = sim.token()
    msisdn = new_wallet()
    sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=b2c_body(sim, callback_sink, msisdn), token=token)
    sim.call("POST", "/mpesa/accountbalance/v1/query", json=query_body(sim, callback_sink, "AccountBalance"),
             token=token)  # fmt: skip
    sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json={}, token="not-a-token")
    status, seen = sim.admin("GET", f"/sim/admin/requests?since={since}&times=true")
    assert status == 200, seen
    assert seen["by_path"] == {"/mpesa/b2c/v3/paymentrequest": 2, "/mpesa/accountbalance/v1/query": 1}
    assert seen["total"] == 3 and seen["max_in_window"] == 3
    assert [r["path"] for r in seen["requests"]][1] == "/mpesa/accountbalance/v1/query"
    assert since <= seen["first"] <= seen["last"] <= time.time()
    # The token endpoint is not an API request under the budget.
    assert "/oauth/v1/generate" not in seen["by_path"]


def test_request_log_needs_the_admin_token_and_a_positive_window(sim):
    status, _body = sim.call("GET", "/sim/admin/requests")
    assert status in (401, 403)
    status, body = sim.admin("GET", "/sim/admin/requests?window=0")
    assert status == 400, body
