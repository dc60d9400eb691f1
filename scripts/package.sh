#!/usr/bin/env bash
# Builds Uplink's packages with the Tauri bundler (the @tauri-apps/cli in ui/):
# a .deb and an .rpm of the release build, under target/release/bundle/.
#   scripts/package.sh                     # release .deb and .rpm (7-12 min on 2 cores)
#   scripts/package.sh --bundles deb       # only the .deb
#   scripts/package.sh --debug --bundles deb   # a debug build, as the installed-package test uses
# The UI is built first by tauri.conf.json's beforeBuildCommand.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--bundles deb,rpm)
# A release package ships without debug info (the release profile keeps it for
# profiling): 180 MB installed otherwise.
case " ${args[*]} " in
  *" --debug "*) ;;
  *) export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols ;;
esac
ui/node_modules/.bin/tauri build --ci "${args[@]}"
