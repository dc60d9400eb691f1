#!/usr/bin/env bash
# Installs what Uplink needs on a Debian/Ubuntu machine, skipping what is there.
#   scripts/install-deps.sh          # to build and run the app
#   scripts/install-deps.sh --test   # also what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config curl file libssl-dev libwebkit2gtk-4.1-dev
      libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
if [ "${1:-}" = "--test" ]; then
  # Virtual display, private session bus, notification server, WebDriver, X tools.
  pkgs+=(xvfb dbus dbus-x11 dunst webkit2gtk-driver x11-utils)
  # Independent peers: real proxy servers, and a feed written with Python's websockets.
  pkgs+=(tinyproxy microsocks python3 python3-websockets)
  # The installed-package test: the desktop entry's validator. Real wall-clock jumps
  # for one process: libfaketime.
  pkgs+=(desktop-file-utils faketime)
  # The .rpm, installed into a scratch root by rpm itself.
  pkgs+=(rpm)
  # Network interfaces made and given addresses in a test's own network namespace.
  pkgs+=(iproute2)
  # The Windows and macOS checks (scripts/cross-check.sh): build scripts compile C
  # for those targets with MinGW's gcc, or with clang and llvm-ar; Wine runs the
  # Windows build's tests.
  pkgs+=(gcc-mingw-w64-x86-64 clang llvm wine64)
fi
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: Rust is not installed. Install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "error: Node.js 20 or newer is needed for the UI build (found $(node --version))." >&2
  exit 1
fi

if [ "${1:-}" = "--test" ] && ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install tauri-driver --locked
fi

# The UI's packages, exactly as locked.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  (cd ui && npm ci --no-audit --no-fund)
fi
