#!/usr/bin/env bash
# Set up docket in .venv and run its main job on the embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
.venv/bin/python examples/demo.py
