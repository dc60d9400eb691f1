#!/usr/bin/env bash
# Checks the code for Windows and macOS as far as this Linux machine can:
#   Windows (x86_64-pc-windows-gnu):
#     - clippy (warnings are errors) on every crate but the Linux-only e2e harness,
#       with its tests: the app with Tauri, the engine, the CLI, the simulator;
#     - tests built for Windows and run under Wine: the core's and the protocol's,
#       the engine's unit, driver and fault tests, the app's unit tests and its
#       smoke test on Tauri's mock runtime; and the CLI against the
#       simulator (scripts/wine-cli-test.py): it connects, measures round trips,
#       receives prices, reconnects after a TCP reset, and sees no sleep. Wine is
#       not Windows, but the code it runs is the Windows build's (sockets through
#       Winsock, sleep detection through QueryUnbiasedInterruptTime).
#   macOS (aarch64-apple-darwin): clippy on the crates without Tauri (core, proto,
#     engine with the CLI, simulator, bench). The app needs Apple's SDK (the
#     notification plugin's build compiles against Cocoa), which is not here.
# The targets' standard libraries come from rustup (static.rust-lang.org). Where
# rustup cannot fetch one, this says so in a line starting "SKIPPED", adds that line
# to the file UPLINK_SKIPPED names (scripts/test.sh repeats it at its end), and checks
# the rest; with UPLINK_CROSS_CHECK=require that is an error instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build scripts compile C for the target: MinGW's gcc, or clang and llvm-ar; and
# Wine (all installed by scripts/install-deps.sh --test).
for tool in x86_64-w64-mingw32-gcc clang llvm-ar /usr/lib/wine/wine64; do
  command -v "$tool" >/dev/null 2>&1 \
    || { echo "error: $tool is missing: run scripts/install-deps.sh --test" >&2; exit 1; }
done

command -v rustup >/dev/null 2>&1 \
  || { echo "error: rustup is missing: the Windows and macOS checks fetch their targets with it (https://rustup.rs)" >&2; exit 1; }

# Scratch folders, and the Wine server of this run's own prefix, go at the end
# (whatever failed; the server may have ended by itself already).
scratch=()
prefix=""
cleanup() {
  if [ -n "$prefix" ]; then WINEPREFIX=$prefix /usr/lib/wine/wineserver -k 2>/dev/null || true; fi
  if [ ${#scratch[@]} -gt 0 ]; then rm -rf "${scratch[@]}"; fi
}
trap cleanup EXIT

# Whether the standard library for target $1 is there, fetching it if it can.
have_target() {
  rustup target list --installed | grep -qx "$1" && return 0
  # Bounded: a network that drops packets rather than refusing would hang it.
  if timeout 300 rustup target add "$1"; then return 0; fi
  if [ "${UPLINK_CROSS_CHECK:-}" = require ]; then
    echo "error: rustup cannot fetch the standard library for $1" >&2
    exit 1
  fi
  local line="SKIPPED: the $1 checks (rustup cannot fetch its standard library)"
  echo "$line"
  if [ -n "${UPLINK_SKIPPED:-}" ]; then echo "$line" >>"$UPLINK_SKIPPED"; fi
  return 1
}

win=x86_64-pc-windows-gnu
if have_target "$win"; then
  echo "--- Windows ($win): clippy, every crate but the e2e harness"
  cargo clippy --target "$win" --workspace --exclude uplink-e2e --all-targets -- -D warnings

  echo "--- Windows ($win): tests built for Windows, run under Wine"
  # A Wine prefix of the run's own, quiet, without Mono or Gecko (nothing needs them).
  scratch+=("$(mktemp -d)")
  prefix="${scratch[-1]}/prefix"
  export WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1
  # Rust's standard library (1.78 and later) draws random numbers with ProcessPrng
  # from bcryptprimitives.dll, which Wine has only from version 9 (Debian 12 has 8):
  # there, a stand-in over bcrypt's own generator goes into the prefix.
  if [ ! -e /usr/lib/x86_64-linux-gnu/wine/x86_64-windows/bcryptprimitives.dll ]; then
    printf '%s\n' '#include <windows.h>' '#include <bcrypt.h>' \
      '__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {' \
      '  return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;' \
      '}' >"$WINEPREFIX/process_prng.c"
    x86_64-w64-mingw32-gcc -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
      "$WINEPREFIX/process_prng.c" -lbcrypt
    echo "Wine $(/usr/lib/wine/wine64 --version) has no bcryptprimitives.dll: a stand-in with ProcessPrng is in the prefix"
  fi
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
  # The core's scenarios and the protocol's tests; the engine's unit tests (sleep
  # detection, error wording) and its driver and fault tests, over real loopback
  # sockets with the simulator in the same process. Not the CLI's (libfaketime,
  # signals), proxy (Linux proxy servers) or conformance (Python) tests.
  # Bounded: a test that hangs under Wine would otherwise hold the suite.
  timeout 900 cargo test --target "$win" -p uplink-core -p uplink-proto
  timeout 900 cargo test --target "$win" -p uplink-engine --lib --test driver --test faults
  # The app's logic (settings, model, notifications, tray icons), and the whole app
  # on Tauri's mock runtime with its commands through IPC and the capabilities
  # (smoke): no webview is made, but the binaries import WebView2's loader, which
  # the webview2-com-sys build puts beside them.
  timeout 900 cargo test --target "$win" -p uplink-app --lib --test smoke --test ipc_types --no-run
  cp "target/$win/debug/WebView2Loader.dll" "$prefix/drive_c/windows/system32/"
  timeout 900 cargo test --target "$win" -p uplink-app --lib --test smoke --test ipc_types
  cargo build --target "$win" -p uplink-engine --bin uplink
  cargo build -p uplink-sim
  timeout 300 python3 scripts/wine-cli-test.py "target/$win/debug/uplink.exe" target/debug/uplink-sim
fi

mac=aarch64-apple-darwin
if have_target "$mac"; then
  echo "--- macOS ($mac): clippy, the crates without Tauri"
  # Without Apple's SDK, ring's C needs three of its headers: these stand-ins let it
  # compile freestanding. `cargo clippy` links nothing, so they never reach a binary.
  stubs=$(mktemp -d)
  scratch+=("$stubs")
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
