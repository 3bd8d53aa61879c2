# Sourced by test.sh's Odoo stage and run.sh: finds OpenG2P 17 or says why not.
#   OPENG2P_HOME         default /opt/openg2p
#   OPENG2P_PYTHON       a Python in which `import odoo` gives Odoo 17 (default $OPENG2P_HOME/venv/bin/python)
#   OPENG2P_ADDONS_PATH  comma-separated addons folders holding g2p_programs and its dependencies
#                        (default: $OPENG2P_HOME/odoo/odoo/addons, that Python's site-packages/odoo/addons
#                        (queue_job from PyPI), $OPENG2P_HOME/openg2p-registry, $OPENG2P_HOME/openg2p-program)
# Sets openg2p_python and openg2p_addons, or openg2p_missing with the reason.
find_openg2p() {
    local home=${OPENG2P_HOME:-/opt/openg2p}
    openg2p_python=${OPENG2P_PYTHON:-$home/venv/bin/python}
    openg2p_missing=
    if [ ! -x "$openg2p_python" ]; then
        openg2p_missing="no OpenG2P Python at $openg2p_python"; return
    fi
    if ! "$openg2p_python" -c 'import odoo, sys; sys.exit(0 if odoo.release.version_info[0] == 17 else 1)' 2>/dev/null; then
        openg2p_missing="$openg2p_python cannot import Odoo 17"; return
    fi
    local site
    site=$("$openg2p_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    openg2p_addons=${OPENG2P_ADDONS_PATH:-$home/odoo/odoo/addons,$site/odoo/addons,$home/openg2p-registry,$home/openg2p-program}
    local dirs d has_programs= has_queue_job=
    IFS=, read -ra dirs <<<"$openg2p_addons"
    for d in "${dirs[@]}"; do
        [ -f "$d/g2p_programs/__manifest__.py" ] && has_programs=1
        [ -f "$d/queue_job/__manifest__.py" ] && has_queue_job=1
    done
    if [ -z "$has_programs" ]; then openg2p_missing="g2p_programs not found in $openg2p_addons"; return; fi
    if [ -z "$has_queue_job" ]; then openg2p_missing="queue_job not found in $openg2p_addons"; return; fi
}
