#!/usr/bin/env bash
# Install the peer libraries of the loss benchmark into bench/.peers (never into the project's environment: the
# library does not depend on them). Their own dependencies beyond torch are not needed for the losses compared.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install -q --target bench/.peers --no-deps lightly==1.6.0 pytorch-metric-learning==2.9.0
echo "peers installed in bench/.peers"
