#!/usr/bin/env bash
# Installs Odoo 17 and OpenG2P 17 (openg2p-registry, openg2p-program) in one command, laid out the
# way scripts/openg2p_env.sh looks for them:
#   $OPENG2P_HOME/odoo               Odoo 17.0 sources (standard addons in odoo/odoo/addons)
#   $OPENG2P_HOME/venv               Python 3.11 virtualenv: Odoo 17 (installed from ./odoo), its
#                                    requirements, OCA queue_job 17.0 and OpenG2P's libraries
#   $OPENG2P_HOME/openg2p-registry   branch 17.0-develop
#   $OPENG2P_HOME/openg2p-program    branch 17.0-develop
#   $OPENG2P_HOME/openg2p-social-registry-community-addons   branch 17.0-develop: the OCA addons
#                                    OpenG2P 17 takes from there; $OPENG2P_HOME/openg2p-community-addons
#                                    links the ones g2p_payment_g2p_connect (OpenG2P's G2P Connect
#                                    payment manager) needs through g2p_documents: OCA storage
#                                    (queue_job comes from PyPI instead)
# Sources are cloned at the pinned commits below; Python packages come from PyPI; Debian packages
# (headers for python-ldap and psycopg2) from apt when missing. Re-running it on a finished install
# changes nothing and takes seconds. Run with --help for the options.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# ---------------------------------------------------------------- pins
ODOO_URL=https://github.com/Clyde1030/odoo17.git
ODOO_BRANCH=main
ODOO_PIN=62a16a12e3e0e898e712402d0bf2ec62f31a6964 # 2024-07-09, Odoo 17.0 (final)
REGISTRY_URL=https://github.com/OpenG2P/openg2p-registry.git
REGISTRY_BRANCH=17.0-develop
REGISTRY_PIN=ff779ec3d9e811cefed8e9795d8cf79803a0e132 # 2024-10-17, PR 193
PROGRAM_URL=https://github.com/OpenG2P/openg2p-program.git
PROGRAM_BRANCH=17.0-develop
PROGRAM_PIN=26cfe910d7921b08cc79a5d9fc97740e2090d2c9 # 2024-10-17, PR 264
# openg2p-registry's requirements.txt names this repository for its OCA dependencies (no 17.0 of
# OCA storage is on PyPI).
COMMUNITY_URL=https://github.com/OpenG2P/openg2p-social-registry-community-addons.git
COMMUNITY_BRANCH=17.0-develop
COMMUNITY_PIN=454b11f5eb0492c7db240db89d7ac0c05344dcae # 2024-09-19, PR 6
# The addons of it put on the addons path (openg2p-community-addons): g2p_documents' dependencies.
COMMUNITY_ADDONS=(component server_environment storage_backend storage_backend_s3 storage_file)

# What goes into the venv besides Odoo's own requirements.txt (each line is a pip requirement).
# - setuptools < 70: Odoo 17 and gevent's plugin loading use pkg_resources as it was then;
# - cryptography 36: OpenG2P's key manager (g2p_encryption_keymanager, g2p_openid_vci) requires
#   >36,<37 and it replaces Odoo's 3.4.8 pin (pyOpenSSL 21 works with it);
# - zope.interface 5.5.2 / zope.event 4.6: Odoo's websocket (gevent) worker starts with them;
# - schwifty (g2p_bank), phonenumbers, requests, xlsxwriter (this repository's addon).
EXTRA_REQUIREMENTS=(
    "setuptools<70"
    "wheel<0.41"
    "cryptography>36,<37"
    "zope.interface==5.5.2"
    "zope.event==4.6"
    "schwifty>=2023.6"
    "phonenumbers>=8.13,<10"
)
# Installed without dependencies: the package's declared dependencies cannot be met as declared.
# - queue_job requires the `odoo` distribution, which PyPI does not have (./odoo provides it);
# - boto3 1.15.18 (OpenG2P's g2p_documents: boto3<=1.15.18) pairs with botocore 1.18.18, which
#   declares urllib3<1.26 against Odoo's urllib3==1.26.5: let alone, pip backtracks to an old
#   boto3 whose vendored requests does not import on Python 3.11. It runs fine with 1.26.5.
NO_DEPS_REQUIREMENTS=(
    "odoo-addon-queue_job>=17.0,<17.1"
    "boto3==1.15.18"
    "botocore==1.18.18"
    "s3transfer>=0.3.0,<0.4.0"
    "jmespath>=0.7.1,<1.0.0"
    # g2p_payment_g2p_connect's chain (g2p_payment_files, g2p_documents, OCA component and
    # storage_file): declared, or imported at load; without their own dependencies (cose's would
    # replace the cryptography pin; g2p_payment_files only checks that it is installed)
    "cachetools==8.0.2"
    "python-slugify==9.2.0"
    "text-unidecode==1.3"
    "base45==0.4.4"
    "cose==0.9.dev8"
    "python-barcode==0.16.1"
    "pdfkit==1.0.0"
    "wkhtmltopdf==0.2"
)
# Bump when the Python step above changes: a finished venv with another stamp is brought up to date.
DEPS_REVISION=2
# The imports that must work in the venv at the end.
CHECK_IMPORTS="odoo, psycopg2, ldap, lxml, OpenSSL, cryptography, requests, phonenumbers, schwifty, \
xlsxwriter, dateutil, boto3, gevent, cachetools, slugify, base45, barcode, pdfkit"
# Roughly what a first install downloads (git packs, wheels and sources), for the messages.
ODOO_SIZE="~280 MB"
REGISTRY_SIZE="~3 MB"
PROGRAM_SIZE="~6 MB"
COMMUNITY_SIZE="~10 MB"
PYPI_SIZE="~70 MB"
APT_SIZE="~2 MB"

usage() {
    cat <<EOF
Usage: scripts/install_openg2p.sh [options]

Installs Odoo 17 and OpenG2P 17 into a folder outside this repository (default /opt/openg2p),
where scripts/run.sh, scripts/test.sh and scripts/odoo_suite.sh find it (OPENG2P_HOME).

Options:
  --home DIR         where to install (default: \$OPENG2P_HOME, else /opt/openg2p)
  --source-dir DIR   clone the three repositories from mirrors in DIR instead of GitHub; each is
                     looked for as DIR/<name>, DIR/<name>.git or DIR/<name>/repo, <name> being
                     odoo17 (or odoo, Clyde1030+odoo17), openg2p-registry (or
                     OpenG2P+openg2p-registry), openg2p-program (or OpenG2P+openg2p-program),
                     openg2p-social-registry-community-addons (or
                     OpenG2P+openg2p-social-registry-community-addons)
  --python PY        the Python 3.11 to build the venv from (default: python3.11, else python3)
  --no-apt           do not install Debian packages (just say which are missing)
  --dry-run          print the plan (folders, sources, pins, packages) and change nothing
  -h, --help         this help

Environment:
  OPENG2P_HOME                                       as --home
  OPENG2P_ODOO_SRC, OPENG2P_REGISTRY_SRC, OPENG2P_PROGRAM_SRC, OPENG2P_COMMUNITY_SRC
                     a URL or a local path of a git repository holding the pinned commit
                     (overrides --source-dir for that repository)
Pins: Odoo $ODOO_URL $ODOO_BRANCH @ ${ODOO_PIN:0:12}
      openg2p-registry $REGISTRY_BRANCH @ ${REGISTRY_PIN:0:12}, openg2p-program $PROGRAM_BRANCH @ ${PROGRAM_PIN:0:12}
      openg2p-social-registry-community-addons $COMMUNITY_BRANCH @ ${COMMUNITY_PIN:0:12}
EOF
}

say() { printf '\n=== %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
    printf 'install_openg2p: %s\n' "$*" >&2
    exit 1
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${OPENG2P_HOME:-/opt/openg2p}
source_dir=
base_python=
use_apt=1
dry_run=
while [ $# -gt 0 ]; do
    case $1 in
        --home) home=${2:?--home needs a folder}; shift ;;
        --home=*) home=${1#--home=} ;;
        --source-dir) source_dir=${2:?--source-dir needs a folder}; shift ;;
        --source-dir=*) source_dir=${1#--source-dir=} ;;
        --python) base_python=${2:?--python needs a Python}; shift ;;
        --python=*) base_python=${1#--python=} ;;
        --no-apt) use_apt= ;;
        --dry-run) dry_run=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

home=$(realpath -m -- "$home")
case $home/ in
    "$repo_root"/*) die "install outside this repository, not in $home (use --home DIR)" ;;
esac
venv=$home/venv

# ---------------------------------------------------------------- sources
# is_git_repo DIR: DIR itself (not a folder above it) is a git repository, bare or not.
is_git_repo() {
    local gd real
    [ -d "$1" ] || return 1
    gd=$(git -C "$1" rev-parse --absolute-git-dir 2>/dev/null) || return 1
    real=$(cd "$1" && pwd -P)
    [ "$gd" = "$real" ] || [ "$gd" = "$real/.git" ]
}

# resolve_source ENV_VAR DEFAULT_URL NAME...: the repository to clone from.
resolve_source() {
    local var=$1 url=$2 name cand
    shift 2
    if [ -n "${!var:-}" ]; then
        printf '%s\n' "${!var}"
        return
    fi
    if [ -n "$source_dir" ]; then
        for name in "$@"; do
            for cand in "$source_dir/$name" "$source_dir/$name.git" "$source_dir/$name/repo"; do
                if is_git_repo "$cand"; then
                    realpath -- "$cand"
                    return
                fi
            done
        done
        die "no git repository for $1 in $source_dir (looked for: $*; or set $var)"
    fi
    printf '%s\n' "$url"
}

is_remote() {
    case $1 in
        *://* | *@*:*) [ "${1#file://}" = "$1" ] ;;
        *) return 1 ;;
    esac
}

odoo_src=$(resolve_source OPENG2P_ODOO_SRC "$ODOO_URL" odoo17 odoo Clyde1030+odoo17)
registry_src=$(resolve_source OPENG2P_REGISTRY_SRC "$REGISTRY_URL" openg2p-registry OpenG2P+openg2p-registry)
program_src=$(resolve_source OPENG2P_PROGRAM_SRC "$PROGRAM_URL" openg2p-program OpenG2P+openg2p-program)
community_src=$(resolve_source OPENG2P_COMMUNITY_SRC "$COMMUNITY_URL" openg2p-social-registry-community-addons \
    OpenG2P+openg2p-social-registry-community-addons)

# ---------------------------------------------------------------- Python 3.11
if [ -z "$base_python" ]; then
    if command -v python3.11 >/dev/null; then base_python=python3.11; else base_python=python3; fi
fi
is_py311() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; }

# ---------------------------------------------------------------- Debian packages
# The -dev packages python-ldap and psycopg2 compile against, and what building needs at all.
apt_missing() {
    local pkg missing=()
    for pkg in libldap2-dev libsasl2-dev libpq-dev; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    command -v gcc >/dev/null || missing+=(build-essential)
    command -v git >/dev/null || missing+=(git)
    [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
}

if [ -n "$dry_run" ]; then
    echo "install_openg2p (dry run): nothing is changed"
    echo "  home:             $home"
    echo "  odoo:             $home/odoo <- $odoo_src ($ODOO_BRANCH @ $ODOO_PIN)"
    echo "  openg2p-registry: $home/openg2p-registry <- $registry_src ($REGISTRY_BRANCH @ $REGISTRY_PIN)"
    echo "  openg2p-program:  $home/openg2p-program <- $program_src ($PROGRAM_BRANCH @ $PROGRAM_PIN)"
    echo "  community addons: $home/openg2p-social-registry-community-addons <- $community_src ($COMMUNITY_BRANCH @ $COMMUNITY_PIN)"
    echo "                    linked in $home/openg2p-community-addons: ${COMMUNITY_ADDONS[*]}"
    echo "  venv:             $venv (from $base_python)"
    echo "  pip:              $home/odoo/requirements.txt (cryptography pin replaced), ${EXTRA_REQUIREMENTS[*]}"
    echo "  pip --no-deps:    $home/odoo (non-editable), ${NO_DEPS_REQUIREMENTS[*]}"
    if command -v dpkg-query >/dev/null; then
        apt_list=$(apt_missing | xargs)
        echo "  apt:              ${apt_list:-nothing missing}"
    fi
    echo "  then:             export OPENG2P_HOME=$home"
    exit 0
fi

started=$SECONDS
mkdir -p -- "$home" 2>/dev/null || die "cannot create $home: run as root, or create it and give it to you (sudo mkdir -p $home && sudo chown \$USER $home), or use --home DIR"
[ -w "$home" ] || die "$home is not writable by $(id -un) (use --home DIR, or sudo chown \$USER $home)"
if command -v flock >/dev/null; then
    exec 9>"$home/.install.lock"
    flock -n 9 || die "another install_openg2p is running on $home"
fi

say "Debian packages (headers for python-ldap and psycopg2)"
if ! command -v dpkg-query >/dev/null; then
    note "not a Debian system: make sure the OpenLDAP, SASL and libpq headers, gcc and git are installed"
else
    mapfile -t missing < <(apt_missing)
    if [ ${#missing[@]} -eq 0 ]; then
        note "all present"
    elif [ -z "$use_apt" ]; then
        die "missing Debian packages: ${missing[*]} (apt-get install -y ${missing[*]}, or run without --no-apt)"
    else
        sudo=()
        if [ "$(id -u)" -ne 0 ]; then
            command -v sudo >/dev/null || die "missing Debian packages ${missing[*]} and no sudo: install them as root"
            sudo=(sudo)
        fi
        note "installing ${missing[*]} from apt ($APT_SIZE)"
        # A fresh container has no package lists yet; otherwise try without updating first.
        if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >/dev/null 2>&1; then
            "${sudo[@]}" apt-get update -q >/dev/null
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                "${missing[@]}" >/dev/null
        fi
        mapfile -t missing < <(apt_missing)
        [ ${#missing[@]} -eq 0 ] || die "apt did not install ${missing[*]}"
        note "installed"
    fi
fi

say "Sources (pinned)"
# checkout LABEL SOURCE BRANCH PIN DEST SIZE: DEST is a clone of SOURCE at commit PIN.
checkout() {
    local label=$1 src=$2 branch=$3 pin=$4 dest=$5 size=$6 head
    if [ -e "$dest" ] && ! is_git_repo "$dest"; then
        if [ -d "$dest" ] && [ -z "$(ls -A "$dest")" ]; then
            rmdir "$dest"
        else
            die "$dest exists and is not a git checkout: move it away (or use another --home)"
        fi
    fi
    if [ -e "$dest" ]; then
        head=$(git -C "$dest" rev-parse HEAD 2>/dev/null || true)
        if [ "$head" = "$pin" ]; then
            note "$label: $dest already at ${pin:0:12}"
            return
        fi
        if [ -n "$(git -C "$dest" status --porcelain --untracked-files=no)" ]; then
            die "$dest is at ${head:0:12}, not the pinned ${pin:0:12}, and has local changes: commit or move them, then re-run"
        fi
        note "$label: $dest at ${head:0:12}, moving it to the pinned ${pin:0:12}"
        if ! git -C "$dest" cat-file -e "$pin^{commit}" 2>/dev/null; then
            is_remote "$src" && note "downloading from $src"
            git -C "$dest" fetch -q "$src" "$branch" || git -C "$dest" fetch -q "$src" "$pin"
        fi
        git -C "$dest" checkout -q -B "$branch" "$pin"
        return
    fi
    if is_remote "$src"; then
        note "$label: downloading $src ($branch, $size)"
    else
        note "$label: cloning $src ($branch; local, nothing downloaded)"
    fi
    rm -rf -- "$dest.partial"
    git clone -q --no-checkout --branch "$branch" --single-branch -- "$src" "$dest.partial"
    if ! git -C "$dest.partial" cat-file -e "$pin^{commit}" 2>/dev/null; then
        git -C "$dest.partial" fetch -q origin "$pin" ||
            die "$src has no commit $pin (branch $branch moved and the host refuses to fetch by commit?)"
    fi
    git -C "$dest.partial" checkout -q -B "$branch" "$pin"
    mv -- "$dest.partial" "$dest"
    note "$label: $dest at ${pin:0:12} ($(du -sh "$dest" | cut -f1))"
}
checkout "Odoo 17" "$odoo_src" "$ODOO_BRANCH" "$ODOO_PIN" "$home/odoo" "$ODOO_SIZE"
checkout "openg2p-registry" "$registry_src" "$REGISTRY_BRANCH" "$REGISTRY_PIN" "$home/openg2p-registry" "$REGISTRY_SIZE"
checkout "openg2p-program" "$program_src" "$PROGRAM_BRANCH" "$PROGRAM_PIN" "$home/openg2p-program" "$PROGRAM_SIZE"
checkout "community addons" "$community_src" "$COMMUNITY_BRANCH" "$COMMUNITY_PIN" \
    "$home/openg2p-social-registry-community-addons" "$COMMUNITY_SIZE"
# Only the addons g2p_documents needs, as links: the repository's queue_job would shadow PyPI's.
mkdir -p -- "$home/openg2p-community-addons"
for addon in "${COMMUNITY_ADDONS[@]}"; do
    [ -f "$home/openg2p-social-registry-community-addons/$addon/__manifest__.py" ] ||
        die "$home/openg2p-social-registry-community-addons has no $addon"
    if [ -e "$home/openg2p-community-addons/$addon" ] && [ ! -L "$home/openg2p-community-addons/$addon" ]; then
        note "community addons: $home/openg2p-community-addons/$addon is a folder of its own: kept"
        continue
    fi
    ln -sfn "../openg2p-social-registry-community-addons/$addon" "$home/openg2p-community-addons/$addon"
done
note "community addons: $home/openg2p-community-addons links ${COMMUNITY_ADDONS[*]}"
[ -f "$home/odoo/odoo/addons/base/__manifest__.py" ] || die "$home/odoo has no odoo/addons/base: not an Odoo 17 source tree"

say "Python venv ($venv)"
if [ -x "$venv/bin/python" ]; then
    is_py311 "$venv/bin/python" || die "$venv exists but is not Python 3.11: remove it and re-run"
    note "exists ($("$venv/bin/python" -V))"
else
    is_py311 "$base_python" || die "$base_python is not Python 3.11 (Odoo 17's requirements are pinned for it): give one with --python"
    base_python=$("$base_python" -c 'import sys; print(sys.executable)')
    "$base_python" -c 'import ensurepip' 2>/dev/null ||
        die "$base_python cannot make a venv (on Debian: apt-get install python3.11-venv python3.11-dev)"
    "$base_python" -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' ||
        die "$base_python has no C headers to build python-ldap and psycopg2 (on Debian: apt-get install python3.11-dev)"
    "$base_python" -m venv "$venv"
    note "created from $base_python ($("$venv/bin/python" -V))"
fi
py=$venv/bin/python
pip=("$py" -m pip --disable-pip-version-check --no-input)

# The Python step is skipped when the venv was finished for exactly these sources and packages
# and still imports everything.
odoo_head=$(git -C "$home/odoo" rev-parse HEAD)
stamp_value="rev=$DEPS_REVISION odoo=$odoo_head reqs=$(sha256sum "$home/odoo/requirements.txt" | cut -c1-16) \
extra=$(printf '%s\n' "${EXTRA_REQUIREMENTS[@]}" "${NO_DEPS_REQUIREMENTS[@]}" | sha256sum | cut -c1-16)"
stamp_file=$venv/.openg2p-installed
imports_ok() { "$py" -W ignore -c "import $CHECK_IMPORTS" 2>/dev/null; }
gevent_ok() { "$py" -W ignore -c 'import gevent.monkey; gevent.monkey.patch_all(); import psycopg2' 2>/dev/null; }

if [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp_value" ] && imports_ok && gevent_ok; then
    note "up to date (Odoo ${odoo_head:0:12}, packages as pinned): nothing to install"
else
    rm -f -- "$stamp_file"
    log=$venv/install-openg2p.log
    : >"$log"
    run_pip() {
        if ! "${pip[@]}" "$@" >>"$log" 2>&1; then
            tail -n 40 "$log" >&2
            die "pip $* failed (whole log: $log)"
        fi
    }
    note "pip log: $log"
    note "downloading from PyPI, $PYPI_SIZE on a first install (Odoo's requirements, psycopg2 and python-ldap are built here)"
    run_pip install -q "setuptools<70" "wheel<0.41"
    reqs=$venv/openg2p-requirements.txt
    {
        echo "# Written by install_openg2p.sh: Odoo's requirements.txt, its cryptography pin replaced"
        grep -viE '^[[:space:]]*cryptography[[:space:]]*[=<>~!;]' "$home/odoo/requirements.txt"
        printf '%s\n' "${EXTRA_REQUIREMENTS[@]}"
    } >"$reqs"
    note "Odoo's requirements and OpenG2P's libraries ($reqs)"
    run_pip install -q -r "$reqs"
    note "Odoo 17 from $home/odoo (not editable)"
    installed_odoo=$(cat "$venv/.openg2p-odoo" 2>/dev/null || true)
    if [ "$installed_odoo" = "$odoo_head" ] && "$py" -c 'import odoo' 2>/dev/null; then
        note "already installed from ${odoo_head:0:12}"
    else
        # Built in a copy: an in-tree build would leave build/ and egg-info changes in the checkout.
        build=$(mktemp -d "$home/.odoo-build.XXXXXX")
        git -C "$home/odoo" archive --format=tar HEAD | tar -x -C "$build"
        run_pip install -q --no-deps --force-reinstall --no-build-isolation --no-cache-dir "$build"
        rm -rf -- "$build"
        echo "$odoo_head" >"$venv/.openg2p-odoo"
    fi
    note "without dependencies: ${NO_DEPS_REQUIREMENTS[*]}"
    run_pip install -q --no-deps "${NO_DEPS_REQUIREMENTS[@]}"
    if ! gevent_ok; then
        note "Odoo's websocket (gevent) worker cannot start: reinstalling zope.interface and zope.event"
        run_pip install -q --force-reinstall --no-deps --no-build-isolation --no-cache-dir \
            "zope.interface==5.5.2" "zope.event==4.6"
    fi
    gevent_ok || {
        "$py" -c 'import gevent.monkey; gevent.monkey.patch_all(); import psycopg2' 2>&1 | tail -n 5 >&2
        die "Odoo's websocket (gevent) worker still cannot start in $venv"
    }
    if ! imports_ok; then
        "$py" -W ignore -c "import $CHECK_IMPORTS" 2>&1 | tail -n 5 >&2
        die "the venv cannot import all of: $CHECK_IMPORTS"
    fi
    # The Odoo line names the deleted build folder: say where it came from instead.
    "${pip[@]}" freeze 2>/dev/null | sed "s|^odoo @ file://.*|odoo==$("$py" -c 'import importlib.metadata as m; print(m.version("odoo"))')  # $home/odoo at $odoo_head|" \
        >"$venv/openg2p-freeze.txt" || true
    echo "$stamp_value" >"$stamp_file"
    note "installed ($("${pip[@]}" list 2>/dev/null | tail -n +3 | wc -l) packages; versions in $venv/openg2p-freeze.txt)"
fi

say "Check (scripts/openg2p_env.sh)"
# shellcheck source=openg2p_env.sh
source "$repo_root/scripts/openg2p_env.sh"
OPENG2P_HOME=$home OPENG2P_PYTHON='' OPENG2P_ADDONS_PATH='' find_openg2p
[ -z "$openg2p_missing" ] || die "OpenG2P is still not found: $openg2p_missing"
note "Odoo $("$openg2p_python" -c 'import odoo; print(odoo.release.version)') in $openg2p_python"
note "addons path: $openg2p_addons"
note "$(du -sh "$home" | cut -f1) in $home; took $((SECONDS - started)) s"
echo
echo "OpenG2P 17 is installed. Use it with:"
echo "    export OPENG2P_HOME=$home"
