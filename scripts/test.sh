#!/usr/bin/env bash
# Set up everything the tests need in .venv, then run lint, types and the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[all,dev]"
bash scripts/install-services.sh .venv
.venv/bin/ruff check src tests benchmarks examples
.venv/bin/ruff format --check src tests benchmarks examples
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
# The SDK suite again, against a real `docket server` process on PostgreSQL
# (tests marked embedded_only look inside the embedded store and are skipped).
.venv/bin/python -m pytest --store=remote "$@" \
    tests/test_guide_samples.py tests/test_artifact_build.py \
    tests/test_references_local.py tests/test_download.py tests/test_versions.py \
    tests/test_errors_and_names.py tests/test_api.py tests/test_public_api.py \
    tests/test_conformance.py tests/test_remote_client.py
