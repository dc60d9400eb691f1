#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine with no display and no
# session bus: installs what is missing, checks formatting and lints (also for
# Windows and macOS, with the Windows build's tests under Wine), runs the Rust
# and UI unit and integration tests, then the end-to-end suite on a private desktop,
# then the installed-package test (build the .deb, install it, run it, remove it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# A CI run builds once: incremental state would only take disk (2.3 GB).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
step() { printf '\n=== %s\n' "$*"; }

# Builds fill target/: a clean run peaked at 9.2 GiB there (2026-11-27); its Wine
# prefix and packages take some more.
scripts/disk-check.sh 12

step "dependencies"
scripts/install-deps.sh --test

step "format"
cargo fmt --all -- --check

step "UI: types, tests, build"
(cd ui && npm run typecheck && npm test && npm run build)

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "Windows and macOS: clippy; the Windows build's tests under Wine"
# What cannot be checked here is listed again at the end.
export UPLINK_SKIPPED
UPLINK_SKIPPED=$(mktemp)
trap 'rm -f "$UPLINK_SKIPPED"' EXIT
scripts/cross-check.sh

step "Rust tests: core, engine, simulator, CLI, app logic"
cargo test
cargo test -p uplink-e2e --lib --test scripts

step "end to end: the real app under Xvfb with a private D-Bus session"
scripts/e2e.sh

step "the installed package: build the .deb, install, run, launch at login, remove"
scripts/package-test.sh

if [ -s "$UPLINK_SKIPPED" ]; then
  step "all tests passed, but these were skipped"
  cat "$UPLINK_SKIPPED"
else
  step "all tests passed"
fi
