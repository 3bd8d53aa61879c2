#!/usr/bin/env bash
# Runs the addon's Odoo tests in a throwaway PostgreSQL cluster, when Odoo 17 with OpenG2P is found.
#   OPENG2P_PYTHON       a Python in which `import odoo` works (default /opt/openg2p/venv/bin/python)
#   OPENG2P_ADDONS_PATH  comma-separated addons folders holding g2p_programs and its dependencies
#                        (default: $OPENG2P_HOME/odoo/odoo/addons, the venv's site-packages/odoo/addons (queue_job
#                        from PyPI), $OPENG2P_HOME/openg2p-registry and $OPENG2P_HOME/openg2p-program;
#                        OPENG2P_HOME defaults to /opt/openg2p)
#   MPESA_SIM_PYTHON     a Python in which mpesa_sim is importable, to start the simulator
set -euo pipefail
cd "$(dirname "$0")/.."
home=${OPENG2P_HOME:-/opt/openg2p}
py=${OPENG2P_PYTHON:-$home/venv/bin/python}
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || true)
addons=${OPENG2P_ADDONS_PATH:-$home/odoo/odoo/addons,$site/odoo/addons,$home/openg2p-registry,$home/openg2p-program}

skip() {
    echo "*** ODOO SUITE SKIPPED: $1 (set OPENG2P_PYTHON and OPENG2P_ADDONS_PATH, see README 'Tests') ***"
    exit 0
}
[ -x "$py" ] || skip "no OpenG2P Python at $py"
"$py" -c 'import odoo, sys; sys.exit(0 if odoo.release.version_info[0] == 17 else 1)' 2>/dev/null \
    || skip "$py cannot import Odoo 17"
found=
IFS=, read -ra dirs <<<"$addons"
for d in "${dirs[@]}"; do [ -f "$d/g2p_programs/__manifest__.py" ] && found=1; done
[ -n "$found" ] || skip "g2p_programs not found in $addons"
"$py" -c 'import odoo.addons.queue_job' 2>/dev/null || {
    has_qj=
    for d in "${dirs[@]}"; do [ -f "$d/queue_job/__manifest__.py" ] && has_qj=1; done
    [ -n "$has_qj" ] || skip "queue_job is not installed in $py nor in $addons"
}
exec "$py" scripts/run_odoo_suite.py --addons-path "$addons"
