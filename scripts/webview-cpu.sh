#!/usr/bin/env bash
# Measures what the app costs in CPU on the demo feed under Xvfb (no GPU), with
# WebKitGTK's DMABUF renderer on (the baseline: WEBKIT_DISABLE_DMABUF_RENDERER=0) and
# with the app's default (it sets the switch to 1 unless you set it). Prints the share
# of one core used by the app and its WebKit web process over 20 s, and the ratio.
#
#   scripts/webview-cpu.sh [path/to/uplink-app]    # default: target/debug/uplink-app
set -euo pipefail
cd "$(dirname "$0")/.."
app="$(realpath "${1:-target/debug/uplink-app}")"
[ -x "$app" ] || { echo "no app at $app: run 'cargo build -p uplink-app' first" >&2; exit 2; }

measure() { # $1: the switch's value, or empty for the app's default
  local disp scratch
  for n in $(seq 90 130); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { disp=":$n"; break; }; done
  scratch="$(mktemp -d)"
  Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  local xvfb=$!
  sleep 1
  DISPLAY="$disp" UPLINK_CONFIG_DIR="$scratch/config" UPLINK_LOG_DIR="$scratch/log" \
    dbus-run-session -- bash -c '
      [ -n "$1" ] && export WEBKIT_DISABLE_DMABUF_RENDERER="$1"
      "$2" >/dev/null 2>&1 & app=$!
      sleep 12   # start-up and first paint are not the steady state
      ticks() { local s=0 p; for p in $( { echo $app; pgrep -P $app; pgrep -x WebKitWebProces; } | sort -u); do
        [ -r /proc/$p/stat ] && s=$((s + $(cut -d" " -f14 /proc/$p/stat) + $(cut -d" " -f15 /proc/$p/stat)))
      done; echo $s; }
      a=$(ticks); sleep 20; b=$(ticks)
      echo $(( (b - a) * 1000 / (20 * $(getconf CLK_TCK)) ))
      kill $app; wait $app 2>/dev/null || true
    ' _ "$1" "$app" 2>/dev/null | tail -n 1
  kill "$xvfb"; wait "$xvfb" 2>/dev/null || true
  rm -rf "$scratch"
}

base=$(measure 0)
ours=$(measure "")
printf 'DMABUF renderer on (baseline): %d.%d %% of a core\n' $((base / 10)) $((base % 10))
printf 'app default (switch set):      %d.%d %% of a core\n' $((ours / 10)) $((ours % 10))
[ "$base" -gt 0 ] && printf 'ratio default/baseline: %d.%02d\n' $((ours / base)) $(((ours * 100 / base) % 100))
