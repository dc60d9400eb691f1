#!/usr/bin/env bash
# Runs the end-to-end suite on a private desktop: Xvfb, a private D-Bus session, dunst
# (a real notification server), then the tests, which start tauri-driver, the feed
# simulator and the app themselves. Screenshots go to artifacts/e2e/.
#
#   scripts/e2e.sh                 # the whole suite
#   scripts/e2e.sh s4_giving_up    # one scenario (a test-name filter)
#   UPLINK_E2E_DISPLAY=:0 scripts/e2e.sh   # watch it on a real display instead of Xvfb
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${INSIDE_UPLINK_E2E:-}" ]; then
  cargo build -p uplink-app
  cargo build -p uplink-e2e --tests
  if [ -n "${UPLINK_E2E_DISPLAY:-}" ]; then
    export DISPLAY="$UPLINK_E2E_DISPLAY"
  else
    for n in $(seq 90 130); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { disp=":$n"; break; }; done
    Xvfb "$disp" -screen 0 1400x1000x24 -nolisten tcp >/dev/null 2>&1 &
    xvfb_pid=$!
    trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
    for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${disp#:}" ] && break; sleep 0.05; done
    export DISPLAY="$disp"
  fi
  export INSIDE_UPLINK_E2E=1 NO_AT_BRIDGE=1
  # Not `exec`: the shell must stay to run the EXIT trap that stops Xvfb.
  rc=0
  dbus-run-session -- "$0" "$@" || rc=$?
  exit "$rc"
fi

# Inside the private session bus.
mkdir -p artifacts/e2e
dunst -config /dev/null >artifacts/e2e/dunst.log 2>&1 &
dunst_pid=$!
trap 'kill $dunst_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  busctl --user list 2>/dev/null | grep -q org.freedesktop.Notifications && break
  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames 2>/dev/null \
    | grep -q org.freedesktop.Notifications && break
  sleep 0.05
done
cargo test -p uplink-e2e --test desktop -- --test-threads=1 "$@"
