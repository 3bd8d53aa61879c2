#!/usr/bin/env bash
# Runs every test suite this machine can run:
#   1. linters (ruff, pylint-odoo),
#   2. the suites that need no Odoo (simulator, wire code) in a private virtualenv,
#   3. the Odoo suite, when Odoo 17 with OpenG2P and queue_job is found (see README "Tests").
# A suite that fails, or collects no test, fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${MPESA_TEST_VENV:-$root/.venv}

say() { printf '\n=== %s\n' "$*"; }

if [ ! -x "$venv/bin/python" ]; then
    say "creating the test environment in $venv"
    python3 -m venv "$venv"
fi
# Quiet unless it fails: the install is the same every run.
if ! "$venv/bin/pip" install -q --disable-pip-version-check -e "$root[test,dev]" -e "$root/mpesa-wire" >"$venv/pip.log" 2>&1; then
    cat "$venv/pip.log"; exit 1
fi

say "lint: ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .

say "lint: pylint-odoo (addon)"
"$venv/bin/pylint" --rcfile=.pylintrc-odoo g2p_payment_mpesa

say "suite: simulator and wire code (no Odoo)"
set +e
"$venv/bin/python" -m pytest tests -m "not browser and not odoo_ui" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "ERROR: the no-Odoo suite collected no tests"; exit 1; fi
[ "$rc" -eq 0 ] || exit "$rc"

say "suite: G2P Bridge 1.1.0 + SPAR 1.1.0 + the M-Pesa connector (own venv .venv-bridge)"
MPESA_SIM_PYTHON="$venv/bin/python" bash scripts/bridge_suite.sh

say "suite: browser (Playwright, Debian's chromium)"
bash scripts/browser_suite.sh "$venv"

say "suite: Odoo (OpenG2P)"
MPESA_SIM_PYTHON="$venv/bin/python" bash scripts/odoo_suite.sh
