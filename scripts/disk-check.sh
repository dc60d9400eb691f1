#!/usr/bin/env bash
# disk-check.sh NEED_GIB [DIR]: succeeds if the builds in DIR (default: target, where
# the scripts build) have NEED_GIB GiB: the free space of its disk plus what DIR
# already holds (most of which a build of the same code reuses or replaces).
# Otherwise it says what is missing and exits 1, so the test command stops at once
# rather than with "No space left on device" from a build ten minutes in. Exits 2 on
# bad arguments.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: disk-check.sh NEED_GIB [DIR]" >&2
  exit 2
fi
case "$1" in
  *[!0-9]* | '') echo "error: NEED_GIB must be a whole number of GiB, not '$1'" >&2; exit 2 ;;
esac
need_gib=$((10#$1))
dir=${2:-target}
mkdir -p "$dir"
free_kib=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
# A file a concurrent build removes makes du complain; what it could count is enough.
held_kib=$(du -sk "$dir" 2>/dev/null | cut -f1 || true)
held_kib=${held_kib:-0}
gib=1048576
if [ $((free_kib + held_kib)) -lt $((need_gib * gib)) ]; then
  echo "error: the test suite needs about $need_gib GiB for its builds in $dir/, and there are only $((free_kib / gib)) GiB free on its disk ($dir/ already holds $((held_kib / gib)) GiB). Free some space on that disk." >&2
  exit 1
fi
