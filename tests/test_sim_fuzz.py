"""Schema-driven fuzz of the whole OpenAPI surface: no HTTP 500 unless it is deliberate.

Deliberate 500s are Daraja's duplicate OriginatorConversationID answer (500.002.1001) and
injected faults; the fuzz runs on its own simulator with the fault and config switches left
alone, so every other 500 is a bug.
"""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from mpesa_sim.testing import http_json, start_simulator

# Routes that would change the rules of the game for the other cases (switching faults on,
# making tokens expire) are exercised by their own tests instead.
EXCLUDED = {("PUT", "/sim/admin/faults"), ("PUT", "/sim/admin/config"), ("POST", "/sim/admin/drain")}


@pytest.fixture(scope="module")
def fuzz_target():
    with start_simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def auth_headers(fuzz_target):
    _, agent = http_json(
        "POST",
        fuzz_target.base_url + "/api/login/agent",
        {"email": "agent@mpesa-sim.local", "password": "Agent-Pass-1"},
    )
    basic = base64.b64encode(f"{fuzz_target.consumer_key}:{fuzz_target.consumer_secret}".encode()).decode()
    return {
        "/sim/": {"Authorization": "Bearer " + fuzz_target.admin_token},
        "/mpesa/": {"Authorization": "Bearer " + fuzz_target.token()},
        "/api/": {"Authorization": "Bearer " + agent["token"]},
        "/oauth/": {"Authorization": "Basic " + basic},
    }


def _unexpected(response) -> bool:
    if response.status_code < 500:
        return False
    try:
        return json.loads(response.text).get("errorCode") != "500.002.1001"
    except (ValueError, AttributeError):
        return True


def _fuzz_operation(operation, base_url: str, headers: dict, failures: list[str], ok: set) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(base_url=base_url, headers=headers, timeout=15)
        if response.status_code < 300:
            ok.add(operation.path)
        if _unexpected(response):
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            )

    run()


def _local_callbacks_only(node):
    """Narrow every callback URL in the spec to a closed port on 127.0.0.1: the simulator posts
    to the URLs it is given, and a fuzzer must not make it post anywhere else."""
    if isinstance(node, dict):
        if node.get("x-callback-url"):
            return {"type": "string", "pattern": "^http://127\\.0\\.0\\.1:9/[a-z]{0,10}$"}
        return {key: _local_callbacks_only(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_local_callbacks_only(item) for item in node]
    return node


# schemathesis' own pytest plugin does not work with this pytest; drive its strategies directly.
def test_no_unexpected_server_errors(fuzz_target, auth_headers):
    with urllib.request.urlopen(fuzz_target.base_url + "/openapi.json", timeout=10) as resp:
        spec = _local_callbacks_only(json.load(resp))
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    ok: set[str] = set()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        operations += 1
        headers = next((h for prefix, h in auth_headers.items() if operation.path.startswith(prefix)), {})

        _fuzz_operation(operation, fuzz_target.base_url, headers, failures, ok)
    assert operations >= 30
    assert not failures, "\n".join(failures[:20])
    # The credentials reached the protected routes: the fuzz got past authentication.
    for path in ("/mpesa/b2c/v3/paymentrequest", "/sim/admin/transactions", "/api/account/balance", "/ussd"):
        assert path in ok, sorted(ok)
