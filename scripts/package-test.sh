#!/usr/bin/env bash
# The installed-package test (as root, or with sudo: it installs and removes a package).
#  1. Builds the .deb (a debug build, to keep the suite's time; the packaging is the
#     same as the release's) and checks its dependencies name the tray library.
#  2. Installs it with apt-get, validates its desktop entry, checks its icons, and
#     finds the binary through the entry's Exec line (it must be the package's).
#  3. Runs end-to-end scenarios against that installed binary under Xvfb with a
#     private session bus: s1 (the demo feed, a green tray, the window with live
#     data), s10 (started in the tray: green, no webview until the window opens)
#     and s17 (launch at login writes an autostart entry whose Exec is the
#     installed binary).
#  4. Removes the package and checks it is gone: none of its files is left, and
#     nothing new is under /usr but the caches the desktop's triggers keep.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n--- package test: %s\n' "$*"; }
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
scratch=$(mktemp -d)

step "build the .deb"
scripts/package.sh --debug --bundles deb
deb=$(ls -t target/debug/bundle/deb/*.deb | head -1)
echo "$deb"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
case "$depends" in
  *libayatana-appindicator3-1*) ;;
  *) echo "error: the package does not depend on the tray library libayatana-appindicator3-1" >&2; exit 1 ;;
esac
name=$(dpkg-deb -f "$deb" Package)
find /usr -xdev 2>/dev/null | sort >"$scratch/before"

step "install $name"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb"
trap '$sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name" >/dev/null 2>&1 || true' EXIT
# The installed files, as dpkg recorded them (directories left out).
dpkg -L "$name" | while IFS= read -r f; do [ -d "$f" ] || printf '%s\n' "$f"; done >"$scratch/files"
[ -s "$scratch/files" ] || { echo "error: the package installed no files" >&2; exit 1; }
entry=$(grep '^/usr/share/applications/.*\.desktop$' "$scratch/files")
desktop-file-validate "$entry"
echo "$entry: valid"
for size in 32x32 64x64 128x128 256x256 512x512; do
  grep -q "^/usr/share/icons/hicolor/$size/apps/.*\.png$" "$scratch/files" \
    || { echo "error: the package has no $size icon" >&2; exit 1; }
done
cmd=$(sed -n 's/^Exec=//p' "$entry" | head -1 | awk '{print $1}')
bin=$(command -v "$cmd")
echo "Exec: $cmd -> $bin"
dpkg -S "$bin" | grep -q "^$name:" \
  || { echo "error: the desktop entry's Exec ($cmd -> $bin) is not the package's binary" >&2; exit 1; }

step "the installed app, end to end"
UPLINK_APP_BIN="$bin" scripts/e2e.sh s1_first_start s10_start_minimized s17_launch_at_login

step "remove $name"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name"
trap - EXIT
status=$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null || true)
case "$status" in
  *" installed") echo "error: $name is still installed ($status)" >&2; exit 1 ;;
esac
left=0
while IFS= read -r f; do
  if [ -e "$f" ] || [ -L "$f" ]; then echo "left behind: $f" >&2; left=1; fi
done <"$scratch/files"
find /usr -xdev 2>/dev/null | sort >"$scratch/after"
comm -13 "$scratch/before" "$scratch/after" \
  | grep -vE '/(icon-theme\.cache|mimeinfo\.cache)$' >"$scratch/new" || true
if [ -s "$scratch/new" ]; then
  echo "new under /usr after the removal:" >&2
  cat "$scratch/new" >&2
  left=1
fi
[ "$left" -eq 0 ] || exit 1
echo "nothing of $name is left ($(wc -l <"$scratch/files") files installed and removed)"
rm -rf "$scratch"
