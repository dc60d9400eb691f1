#!/usr/bin/env bash
# Builds and starts Uplink. With no feed configured it runs against its built-in demo
# feed (a simulator started in-process), so a new user sees live data at once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
(cd ui && npm run build)
exec cargo run --release -p uplink-app --features custom-protocol -- "$@"
