"""run.sh (scripts/run_demo.py) prints everything a person needs to use what it started: the
Odoo login, the simulator's console, phone and docs, and the simulator's admin token."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts")]
from run_demo import what_to_open  # noqa: E402


def test_the_demo_prints_the_admin_token_and_every_page():
    text = what_to_open("http://127.0.0.1:8069", "http://127.0.0.1:8090", "tok-3n_secret", "254712345678")
    for expected in (
        "http://127.0.0.1:8069",
        "admin / admin",
        "http://127.0.0.1:8090/console",
        "http://127.0.0.1:8090/phone",
        "http://127.0.0.1:8090/docs",
        "http://127.0.0.1:8090/sim/phones/254712345678/sms",
        "tok-3n_secret",
    ):
        assert expected in text
