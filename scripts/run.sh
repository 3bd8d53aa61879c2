#!/usr/bin/env bash
# The main job. Starts the M-Pesa simulator; where OpenG2P 17 is found (see openg2p_env.sh), also
# an Odoo with this addon, and pays the demo program's cycle end to end through the simulator.
#   MPESA_SIM_PORT (8090), ODOO_PORT (8069), MPESA_SIM_DB (mpesa_sim.sqlite3, simulator alone)
#   --market KE|ET|TZ|CD|LS|GH|MZ: the simulator's market and the demo program's, each on its own
#     simulator database file: Kenya (the default: KES, +254), Ethiopia (ETB, +251 7: Safaricom
#     Ethiopia), or a Vodacom market of the M-Pesa OpenAPI: Tanzania (TZS, +255), DR Congo (USD,
#     +243), Lesotho (LSL, +266), Ghana (GHS, +233), Mozambique (MZN, +258).
#   --no-wait: stop once the demo cycle is paid instead of serving until Ctrl-C.
#   --install-openg2p: when OpenG2P 17 is not found, install it first (scripts/install_openg2p.sh:
#     Odoo 17 and OpenG2P into $OPENG2P_HOME, default /opt/openg2p; ~2.8 GB, a few minutes).
#   --bridge: pay through OpenG2P's G2P Bridge instead: a real G2P Bridge 1.1.0 + SPAR 1.1.0 (the
#     bridge venv .venv-bridge, made by scripts/bridge_suite.sh), PostgreSQL, Redis, the connector
#     g2p-bridge-mpesa and the simulator (Kenya); one envelope of $BRIDGE_N (100) disbursements
#     with the faults drill (bench/bridge_drill.py), its table printed, everything stopped after.
#     Where OpenG2P 17 has OpenG2P's own G2P Connect payment manager (scripts/install_openg2p.sh),
#     the envelope is an Odoo program's cycle (that manager, driven from the Odoo side) and the
#     table shows Odoo's amount_paid too.
set -euo pipefail
market=KE
install_openg2p=
args=("$@")
rest=()
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --market) market=${args[i + 1]:-} ;;
        --market=*) market=${args[i]#--market=} ;;
    esac
    if [ "${args[i]}" = --install-openg2p ]; then install_openg2p=1; else rest+=("${args[i]}"); fi
done
market=${market^^}
case $market in
    KE) default_db=mpesa_sim.sqlite3 ;;
    ET | TZ | CD | LS | GH | MZ) default_db=mpesa_sim_${market,,}.sqlite3 ;;  # a database keeps its market
    *) echo "run.sh: --market KE, ET, TZ, CD, LS, GH or MZ, not '$market'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
venv=${MPESA_TEST_VENV:-$PWD/.venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/pip" install -q --disable-pip-version-check -e . >"$venv/pip-run.log" 2>&1; then
    cat "$venv/pip-run.log"; exit 1
fi
if [[ " $* " == *" --bridge "* ]]; then
    bridge=.venv-bridge/bin/python
    if [ ! -x "$bridge" ] || ! "$bridge" -c "import openg2p_g2p_bridge_api, g2p_bridge_mpesa" 2>/dev/null; then
        echo "run.sh --bridge: creating the G2P Bridge venv and checking it (scripts/bridge_suite.sh)"
        MPESA_SIM_PYTHON="$venv/bin/python" bash scripts/bridge_suite.sh -x -q
    fi
    [ -x "$bridge" ] || { echo "run.sh --bridge: no G2P Bridge venv (see the suite's output above)" >&2; exit 1; }
    # Where OpenG2P 17 with its G2P Connect payment manager is installed, the envelope comes from an
    # Odoo program's cycle and the table shows Odoo's amount_paid (bench/bridge_drill.py --odoo).
    odoo=()
    if why=$("$bridge" -c "import sys; sys.path.insert(0, 'scripts'); from g2p_connect_odoo import find_openg2p
python, why = find_openg2p(); print(why if python is None else ''); sys.exit(python is None)"); then
        odoo=(--odoo)
    else
        echo "run.sh --bridge: the envelope comes from the PBMS stand-in, not Odoo: $why"
    fi
    exec env MPESA_SIM_PYTHON="$venv/bin/python" "$bridge" bench/bridge_drill.py --n "${BRIDGE_N:-100}" ${odoo[@]+"${odoo[@]}"}
fi
source scripts/openg2p_env.sh
find_openg2p
if [ -n "$openg2p_missing" ] && [ -n "$install_openg2p" ]; then
    bash scripts/install_openg2p.sh # OPENG2P_HOME and the OPENG2P_*_SRC overrides apply
    find_openg2p
fi
if [ -n "$openg2p_missing" ]; then
    echo "OpenG2P 17 not found ($openg2p_missing): running the simulator alone."
    echo "To pay the demo program end to end through Odoo, install OpenG2P 17 once (~2.8 GB, a few minutes):"
    echo "    ./scripts/run.sh --install-openg2p    (into ${OPENG2P_HOME:-/opt/openg2p}; or scripts/install_openg2p.sh --home DIR)"
    exec "$venv/bin/mpesa-sim" serve --port "${MPESA_SIM_PORT:-8090}" --db "${MPESA_SIM_DB:-$default_db}" \
        --market "$market"
fi
exec "$openg2p_python" scripts/run_demo.py --addons-path "$openg2p_addons" --sim-python "$venv/bin/python" \
    --sim-port "${MPESA_SIM_PORT:-8090}" --odoo-port "${ODOO_PORT:-8069}" ${rest[@]+"${rest[@]}"}
