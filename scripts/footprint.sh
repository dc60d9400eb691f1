#!/usr/bin/env bash
# The footprint benchmark: what the release app costs a trader's desktop, measured
# under Xvfb (no GPU) with a private session bus. For the built-in demo feed (about
# 8 msg/s) and a 100,000 msg/s simulator feed, with the window open, in the tray after
# the window was closed, and in the tray when started minimized, it prints for the whole process tree (the app and every
# WebKit process under it):
#   * PSS (proportional set size: shared pages split among the processes sharing
#     them), MB, after the measuring window;
#   * CPU, % of one core, over 20 s after a 12 s start-up (on the fast feed, the
#     engine alone and the app started in the tray: the median of 3 runs, with
#     each run's figure printed under the table);
# then the time from a cold start to the connected status (which turns the tray
# green), and, as the baseline measured in the same run, the engine alone (the
# headless CLI `uplink watch`) on the same feeds, with each row's ratio to it.
#
#   scripts/footprint.sh            # builds the release app, CLI and simulator first
#
# Not a test: it asserts nothing. BENCHMARKS.md keeps its figures.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test >/dev/null
[ -f ui/dist/index.html ] || (cd ui && npm run build >/dev/null)
# The same profile as scripts/package.sh: the binaries a package ships.
export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols
cargo build -q --release -p uplink-app --features uplink-app/custom-protocol \
  -p uplink-engine -p uplink-sim
cargo build -q -p uplink-e2e --bin x11-close
app="$PWD/target/release/uplink-app"
cli="$PWD/target/release/uplink"
simbin="$PWD/target/release/uplink-sim"
close="$PWD/target/debug/x11-close"
secs=20
settle=12
hz=$(getconf CLK_TCK)

# Every descendant of $1, and $1.
tree() {
  local all=("$1") i=0
  while [ $i -lt ${#all[@]} ]; do
    for c in $(pgrep -P "${all[$i]}" 2>/dev/null); do all+=("$c"); done
    i=$((i + 1))
  done
  echo "${all[@]}"
}
ticks() { # CPU ticks (user + system) of the tree under $1
  local s=0 p
  for p in $(tree "$1"); do
    [ -r "/proc/$p/stat" ] && s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $s
}
pss_kb() { # PSS of the tree under $1, kB
  local s=0 p v
  for p in $(tree "$1"); do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    s=$((s + ${v:-0}))
  done
  echo $s
}

# Runs "$@" in the background (in the current display and bus), measures its tree;
# prints "PSS_MB CPU_PERMILLE". With CLOSE_AFTER=N, the window named Uplink is
# closed N seconds after start (the settle time still runs from the start).
measure() {
  "$@" >/dev/null 2>&1 &
  local pid=$!
  if [ -n "${CLOSE_AFTER:-}" ]; then
    sleep "$CLOSE_AFTER"
    "$close" Uplink >&2 || { echo "error: could not close the window" >&2; exit 1; }
    sleep $((settle - CLOSE_AFTER))
  else
    sleep "$settle"
  fi
  kill -0 $pid 2>/dev/null || { echo "error: $1 ended during the measurement" >&2; exit 1; }
  local a b
  a=$(ticks $pid)
  sleep "$secs"
  b=$(ticks $pid)
  local pss
  pss=$(pss_kb $pid)
  kill $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  # Anything the app left (WebKit's processes end with it).
  sleep 1
  echo "$((pss / 1024)) $(((b - a) * 1000 / (secs * hz)))"
}

# Settings for a feed (empty: the demo feed), in a fresh config folder.
config() { # $1: folder, $2: feed URL or empty
  mkdir -p "$1"
  local urls='[]'
  [ -n "$2" ] && urls="[\"$2\"]"
  printf '{"feed_urls": %s, "watchlist": ["AAPL", "MSFT"]}\n' "$urls" >"$1/settings.json"
}

if [ -z "${INSIDE_UPLINK_FOOTPRINT:-}" ]; then
  for n in $(seq 90 130); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { disp=":$n"; break; }; done
  Xvfb "$disp" -screen 0 1400x1000x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb=$!
  trap 'kill $xvfb 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${disp#:}" ] && break; sleep 0.05; done
  rc=0
  DISPLAY="$disp" NO_AT_BRIDGE=1 INSIDE_UPLINK_FOOTPRINT=1 dbus-run-session -- "$0" "$@" || rc=$?
  exit "$rc"
fi

scratch=$(mktemp -d)
trap 'kill $sim 2>/dev/null || true; rm -rf "$scratch"' EXIT
"$simbin" --addr 127.0.0.1:0 --control-addr 127.0.0.1:0 --rate 100000 >"$scratch/sim.json" 2>/dev/null &
sim=$!
for _ in $(seq 100); do [ -s "$scratch/sim.json" ] && break; sleep 0.05; done
fast=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$scratch/sim.json")

row() { # $1: label, $2: "PSS PERMILLE", $3: baseline "PSS PERMILLE"
  local pss cpu bp bc
  read -r pss cpu <<<"$2"
  read -r bp bc <<<"$3"
  local ratio_pss ratio_cpu
  ratio_pss=$(python3 -c "print(f'{$pss/max($bp,1):.1f}')")
  ratio_cpu=$(python3 -c "print(f'{$cpu/max($bc,1):.1f}')")
  printf '| %s | %d | %d.%d | %s | %s |\n' "$1" "$pss" $((cpu / 10)) $((cpu % 10)) "$ratio_pss" "$ratio_cpu"
}

app_run() { # $1: feed URL or empty, then app arguments
  local dir
  dir=$(mktemp -d "$scratch/run.XXXX")
  config "$dir/config" "$1"
  shift
  UPLINK_CONFIG_DIR="$dir/config" UPLINK_LOG_DIR="$dir/log" measure "$app" "$@"
}

# The demo feed is a simulator inside the app; the engine-alone baseline needs one
# outside it at the demo's rate.
"$simbin" --addr 127.0.0.1:0 --control-addr 127.0.0.1:0 --rate 8 >"$scratch/demo.json" 2>/dev/null &
demo_sim=$!
for _ in $(seq 100); do [ -s "$scratch/demo.json" ] && break; sleep 0.05; done
demo=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$scratch/demo.json")

# The median of three runs of "$@" by CPU (the 100,000 msg/s figures move with the
# machine's load by more than a point); the three CPU figures go to $runs_file.
median3() {
  local r1 r2 r3
  r1=$("$@")
  r2=$("$@")
  r3=$("$@")
  printf '%s\n%s\n%s\n' "$r1" "$r2" "$r3" | sort -n -k2 | sed -n 2p
  printf '%s\n%s\n%s\n' "$r1" "$r2" "$r3" | awk '{printf "%d.%d%% ", $2/10, $2%10}' >"$runs_file"
}
runs_file="$scratch/runs"

base_demo=$(measure "$cli" watch "$demo" --subscribe AAPL --subscribe MSFT --stats-interval 60)
base_fast=$(median3 measure "$cli" watch "$fast" --subscribe AAPL --subscribe MSFT --stats-interval 60)
base_fast_runs=$(cat "$runs_file")
kill $demo_sim 2>/dev/null || true

# Each measurement assigned first, so a failed one stops the script (errexit does
# not look inside a command's arguments).
demo_open=$(app_run "")
demo_closed=$(CLOSE_AFTER=6 app_run "")
demo_min=$(app_run "" --minimized)
fast_open=$(app_run "$fast")
fast_closed=$(CLOSE_AFTER=6 app_run "$fast")
fast_min=$(median3 app_run "$fast" --minimized)
fast_min_runs=$(cat "$runs_file")
echo "| case | PSS, MB (tree) | CPU, % of a core | PSS ÷ engine alone | CPU ÷ engine alone |"
echo "|---|---|---|---|---|"
row "engine alone (CLI), demo rate (baseline)" "$base_demo" "$base_demo"
row "demo feed, window open" "$demo_open" "$base_demo"
row "demo feed, in the tray (window closed)" "$demo_closed" "$base_demo"
row "demo feed, in the tray (started minimized)" "$demo_min" "$base_demo"
row "engine alone (CLI), 100,000 msg/s (baseline, median)" "$base_fast" "$base_fast"
row "100,000 msg/s, window open" "$fast_open" "$base_fast"
row "100,000 msg/s, in the tray (window closed)" "$fast_closed" "$base_fast"
row "100,000 msg/s, in the tray (started minimized, median)" "$fast_min" "$base_fast"
echo "| the seed's target for the whole app | < 50 | | | |"
echo
echo "100,000 msg/s rows marked median: of 3 runs; CPU of each run: engine alone $base_fast_runs; in the tray (started minimized) $fast_min_runs"

# Cold start to connected: launch to the log's "Connected to" line.
dir=$(mktemp -d "$scratch/run.XXXX")
config "$dir/config" ""
start=$(date +%s%N)
UPLINK_CONFIG_DIR="$dir/config" UPLINK_LOG_DIR="$dir/log" "$app" --minimized >/dev/null 2>&1 &
pid=$!
connected=""
for _ in $(seq 1000); do
  grep -Eqs 'state.{0,8}"connected"' "$dir"/log/* && { connected=1; break; }
  sleep 0.01
done
end=$(date +%s%N)
[ -n "$connected" ] || { echo "error: not connected within 10 s of a cold start" >&2; exit 1; }
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
echo
echo "cold start to connected (tray green), demo feed, started minimized: $(((end - start) / 1000000)) ms"
