#!/usr/bin/env bash
# The browser suite: the simulator's /phone and /console pages driven by Playwright through
# Debian's chromium (never a downloaded browser). Usage: scripts/browser_suite.sh <venv>
# Installs chromium from Debian's packages when missing and running as root; without a
# chromium it says so loudly and exits 0. Screenshots go to artifacts/screenshots/.
# The Playwright installed here also drives the Odoo suite's UI walks (scripts/odoo_ui_stage.py,
# tests/test_ui_odoo.py: a prepared program, then a new one made from scratch), which test.sh
# runs after this suite in the same virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:?usage: scripts/browser_suite.sh <virtualenv>}
chromium=/usr/bin/chromium

if [ ! -x "$chromium" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "note: installing Debian's chromium for the browser suite (apt-get install chromium)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/browser_suite_apt.log 2>&1; then
        echo "note: apt-get could not install chromium (see /tmp/browser_suite_apt.log)"
    fi
fi
if [ ! -x "$chromium" ]; then
    why="no $chromium"
    [ "$(id -u)" -eq 0 ] || why="$why and not root, so it cannot be installed (apt-get install chromium)"
    echo "*** BROWSER SUITE SKIPPED: $why ***"
    exit 0
fi

if ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check 'playwright>=1.44'
fi

set +e
"$venv/bin/python" -m pytest -m browser tests
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "ERROR: the browser suite collected no tests"; exit 1; fi
exit "$rc"
