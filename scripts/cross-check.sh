#!/usr/bin/env bash
# Type-checks the code for Windows and macOS with clippy (warnings are errors), so
# that code behind `cfg(windows)` and `cfg(target_os = "macos")` at least compiles.
# Nothing is linked or run: these machines have neither system.
#   Windows (x86_64-pc-windows-gnu): every crate but the Linux-only e2e harness, with
#     its tests: the app with Tauri, the engine, the CLI, the simulator.
#   macOS (aarch64-apple-darwin): the crates without Tauri (core, proto, engine with
#     the CLI, simulator, bench). The app needs Apple's SDK (the notification plugin's
#     build compiles against Cocoa), which is not here.
# The targets' standard libraries come from rustup (static.rust-lang.org). Where
# rustup cannot fetch one, this says so in a line starting "SKIPPED" and checks the
# rest; with UPLINK_CROSS_CHECK=require that is an error instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build scripts compile C for the target: MinGW's gcc, or clang and llvm-ar
# (installed by scripts/install-deps.sh --test).
for tool in x86_64-w64-mingw32-gcc clang llvm-ar; do
  command -v "$tool" >/dev/null 2>&1 \
    || { echo "error: $tool is missing: run scripts/install-deps.sh --test" >&2; exit 1; }
done

# Whether the standard library for target $1 is there, fetching it if it can.
have_target() {
  rustup target list --installed | grep -qx "$1" && return 0
  # Bounded: a network that drops packets rather than refusing would hang it.
  if timeout 300 rustup target add "$1"; then return 0; fi
  if [ "${UPLINK_CROSS_CHECK:-}" = require ]; then
    echo "error: rustup cannot fetch the standard library for $1" >&2
    exit 1
  fi
  echo "SKIPPED: the $1 check (rustup cannot fetch its standard library)"
  return 1
}

win=x86_64-pc-windows-gnu
if have_target "$win"; then
  echo "--- Windows ($win): clippy, every crate but the e2e harness"
  cargo clippy --target "$win" --workspace --exclude uplink-e2e --all-targets -- -D warnings
fi

mac=aarch64-apple-darwin
if have_target "$mac"; then
  echo "--- macOS ($mac): clippy, the crates without Tauri"
  # Without Apple's SDK, ring's C needs three of its headers: these stand-ins let it
  # compile freestanding. `cargo clippy` links nothing, so they never reach a binary.
  stubs=$(mktemp -d)
  trap 'rm -rf "$stubs"' EXIT
  printf '#define TARGET_OS_OSX 1\n#define TARGET_OS_MAC 1\n#define TARGET_OS_IPHONE 0\n#define TARGET_OS_IOS 0\n' \
    >"$stubs/TargetConditionals.h"
  printf '#define assert(x) ((void)0)\n' >"$stubs/assert.h"
  printf '#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid *memmove(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\nint memcmp(const void *, const void *, size_t);\n' \
    >"$stubs/string.h"
  CC_aarch64_apple_darwin=clang AR_aarch64_apple_darwin=llvm-ar \
    CFLAGS_aarch64_apple_darwin="-ffreestanding -isystem $stubs" \
    cargo clippy --target "$mac" -p uplink-core -p uplink-proto -p uplink-engine \
    -p uplink-sim -p uplink-bench --all-targets -- -D warnings
fi
