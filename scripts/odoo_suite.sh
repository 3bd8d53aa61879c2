#!/usr/bin/env bash
# Runs the addon's Odoo tests in a throwaway PostgreSQL cluster, when Odoo 17 with OpenG2P is found
# (see openg2p_env.sh for the variables). MPESA_SIM_PYTHON: a Python that can run mpesa_sim.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/openg2p_env.sh
find_openg2p
if [ -n "$openg2p_missing" ]; then
    echo "*** ODOO SUITE SKIPPED: $openg2p_missing (set OPENG2P_PYTHON and OPENG2P_ADDONS_PATH, see README 'Tests') ***"
    exit 0
fi
exec "$openg2p_python" scripts/run_odoo_suite.py --addons-path "$openg2p_addons"
