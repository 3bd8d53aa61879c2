"""run.sh and the Odoo-suite runner refuse an Odoo whose processes are not all serving.

The checks (scripts/odoo_cluster.py) need no Odoo: here plain HTTP servers stand for an Odoo's
HTTP workers and its websocket (gevent) worker.
"""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from odoo_cluster import (
    GEVENT_FIX,
    OdooUnhealthy,
    check_odoo_serving,
    free_port,
    gevent_problem,
)


def serve(port):
    """A process answering HTTP on port (like an Odoo worker)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc


@pytest.fixture
def servers():
    started = []

    def start(port):
        started.append(serve(port))
        return started[-1]

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_python_without_a_working_gevent_is_named_with_its_error():
    # This environment has no gevent at all: the check says so instead of starting a worker
    # that would die over and over.
    problem = gevent_problem(sys.executable)
    assert problem and "gevent" in problem


def test_a_dead_websocket_worker_fails_loudly_with_the_fix(servers, tmp_path):
    http_port, gevent_port = free_port(), free_port()
    main = servers(http_port)
    log = tmp_path / "odoo.log"
    log.write_text("INFO ? odoo.service.server: HTTP service (werkzeug) running\n")
    with pytest.raises(OdooUnhealthy) as info:
        check_odoo_serving(main, http_port, gevent_port, log, timeout=3, settle=0.1)
    assert "websocket (gevent) worker never answered" in str(info.value)
    assert GEVENT_FIX in str(info.value)


def test_a_crash_in_the_log_fails_even_when_the_ports_answer(servers, tmp_path):
    http_port, gevent_port = free_port(), free_port()
    main = servers(http_port)
    servers(gevent_port)
    log = tmp_path / "odoo.log"
    log.write_text(
        "Traceback (most recent call last):\n"
        "pkg_resources.DistributionNotFound: The 'zope.interface' distribution was not found\n"
    )
    with pytest.raises(OdooUnhealthy) as info:
        check_odoo_serving(main, http_port, gevent_port, log, timeout=10, settle=0.1)
    assert "crashed" in str(info.value) and "zope.interface" in str(info.value)


def test_a_main_process_that_exits_fails(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    gone.wait()
    with pytest.raises(OdooUnhealthy, match="exited with code 3"):
        check_odoo_serving(gone, free_port(), None, tmp_path / "none.log", timeout=5, settle=0.1)


def test_every_process_serving_passes(servers, tmp_path):
    http_port, gevent_port = free_port(), free_port()
    main = servers(http_port)
    servers(gevent_port)
    (tmp_path / "odoo.log").write_text("INFO ok\n")
    check_odoo_serving(main, http_port, gevent_port, tmp_path / "odoo.log", timeout=10, settle=0.2)
