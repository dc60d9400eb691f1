#!/usr/bin/env bash
# disk-check.sh NEED_GB [DIR]: succeeds if DIR (default: the cargo target directory)
# has NEED_GB GB for builds: the free space of its disk plus what DIR already holds,
# which the builds reuse or replace. Otherwise it says what is missing and exits 1, so
# the test command stops at once rather than with "No space left on device" from a
# build ten minutes in.
set -euo pipefail
need_gb=${1:?usage: disk-check.sh NEED_GB [DIR]}
case "$need_gb" in
  '' | *[!0-9]*) echo "error: NEED_GB must be a whole number of GB, not '$need_gb'" >&2; exit 2 ;;
esac
dir=${2:-${CARGO_TARGET_DIR:-target}}
mkdir -p "$dir"
free_kb=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
held_kb=$(du -sk "$dir" | cut -f1)
gib=1048576
if [ $(( free_kb + held_kb )) -lt $(( need_gb * gib )) ]; then
  echo "error: the test suite needs about $need_gb GB for its builds in $dir/, and there are only $(( free_kb / gib )) GB free on its disk ($dir/ already holds $(( held_kb / gib )) GB). Free some space, or set CARGO_TARGET_DIR to a directory on a larger disk." >&2
  exit 1
fi
