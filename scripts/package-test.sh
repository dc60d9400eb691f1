#!/usr/bin/env bash
# The installed-package test (as root, or with sudo: it installs and removes a package).
#  1. Builds the .deb (a debug build, to keep the suite's time; the packaging is the
#     same as the release's) and checks its dependencies name the tray library.
#  2. Installs it with apt-get, validates its desktop entry, and finds the binary
#     through the entry's Exec line.
#  3. Runs end-to-end scenarios against that installed binary under Xvfb with a
#     private session bus: s1 (the demo feed, a green tray, the window with live
#     data), s10 (started in the tray: green, no webview until the window opens)
#     and s17 (launch at login writes an autostart entry whose Exec is the
#     installed binary).
#  4. Removes the package and checks that none of its files is left.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n--- package test: %s\n' "$*"; }
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo

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
files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $NF}' | sed -E 's|^\.?/?|/|')

[ -n "$files" ] || { echo "error: the package holds no files" >&2; exit 1; }

step "install $name"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb"
trap '$sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name" >/dev/null 2>&1 || true' EXIT
for f in $files; do
  [ -e "$f" ] || { echo "error: $f is in the package but not installed" >&2; exit 1; }
done
entry=$(dpkg -L "$name" | grep '^/usr/share/applications/.*\.desktop$')
desktop-file-validate "$entry"
echo "$entry: valid"
cmd=$(sed -n 's/^Exec=//p' "$entry" | head -1 | awk '{print $1}')
bin=$(command -v "$cmd")
echo "Exec: $cmd -> $bin"
case "$bin" in
  /usr/*) ;;
  *) echo "error: the desktop entry's Exec ($cmd) is not the installed binary ($bin)" >&2; exit 1 ;;
esac
for size in 32x32 64x64 128x128 256x256 512x512; do
  dpkg -L "$name" | grep -q "^/usr/share/icons/hicolor/$size/apps/.*\.png$" \
    || { echo "error: the package has no $size icon" >&2; exit 1; }
done

step "the installed app, end to end"
UPLINK_APP_BIN="$bin" scripts/e2e.sh s1_first_start s10_start_minimized s17_launch_at_login

step "remove $name"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name"
trap - EXIT
left=0
for f in $files; do
  if [ -e "$f" ]; then echo "left behind: $f" >&2; left=1; fi
done
[ "$left" -eq 0 ] || exit 1
echo "nothing of $name is left under /usr"
