#!/usr/bin/env bash
# The installed-package test (as root, or with sudo: it installs and removes a package).
#  1. Builds the .deb (a debug build, to keep the suite's time; the packaging is the
#     same as the release's) and checks its dependencies name the tray library, WebKitGTK and GTK.
#  2. Installs it with apt-get, validates its desktop entry, checks its icons, and
#     finds the binary through the entry's Exec line (it must be the package's).
#  3. Runs end-to-end scenarios against that installed binary under Xvfb with a
#     private session bus: s1 (the demo feed, a green tray, the window with live
#     data), s10 (started in the tray: green, no webview until the window opens)
#     and s17 (launch at login writes an autostart entry whose Exec is the
#     installed binary).
#  4. Removes the package and checks it is gone: none of its files is left, and
#     nothing new is under /usr but the caches the desktop's triggers keep.
#  5. The .rpm, built in the same run: its requirements name the same three libraries; rpm
#     itself installs it into a scratch root (this is a Debian machine: --nodeps, and
#     nothing of it reaches /usr); its files are the .deb's, byte for byte but for the
#     package type Tauri writes into the binary; its binary passes s1 (the demo feed,
#     a green tray, the window); rpm removes it and leaves no file behind.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n--- package test: %s\n' "$*"; }
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
scratch=$(mktemp -d)

step "build the .deb and the .rpm"
scripts/package.sh --debug --bundles deb,rpm
deb=$(ls -t target/debug/bundle/deb/*.deb | head -1)
rpmfile=$(ls -t target/debug/bundle/rpm/*.rpm | head -1)
echo "$deb"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
# The tray library (loaded at run time, so no linker finds it), the webview, GTK.
for lib in libayatana-appindicator3-1 libwebkit2gtk-4.1-0 libgtk-3-0; do
  case ", $depends," in
    *", $lib,"*) ;;
    *) echo "error: the package does not depend on $lib" >&2; exit 1 ;;
  esac
done
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
grep -qx 'Categories=.*Finance;' "$entry" \
  || { echo "error: $entry is not in the Finance category" >&2; exit 1; }
echo "$entry: valid, category Finance"
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

step "the .rpm"
echo "$rpmfile"
requires=$(rpm -qp --requires "$rpmfile")
echo "Requires: $(tr '\n' ' ' <<<"$requires")"
for so in 'libayatana-appindicator3\.so\.1' 'libwebkit2gtk-4\.1\.so\.0' 'libgtk-3\.so\.0'; do
  grep -q "^$so" <<<"$requires" \
    || { echo "error: the .rpm does not require $so" >&2; exit 1; }
done
rpmname=$(rpm -qp --qf '%{NAME}' "$rpmfile")
root="$scratch/rpm-root"
rpmdb=(--root "$root" --dbpath /var/lib/rpm)
mkdir -p "$root" "$scratch/deb-root"
# rpm as Debian ships it: --force-debian to install at all, --nodeps because the
# scratch root's database knows of no library. Its warnings about both are dropped.
quiet_rpm() {
  local out
  out=$($sudo rpm "$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
  grep -v -e 'use Alien' -e 'you know what you are doing' <<<"$out" || true
}
quiet_rpm -i --nodeps --force-debian "${rpmdb[@]}" "$rpmfile"
rpm -q "${rpmdb[@]}" "$rpmname" || { echo "error: rpm did not install $rpmname" >&2; exit 1; }
dpkg-deb -x "$deb" "$scratch/deb-root"
payload() { (cd "$1" && find . -type f -not -path './var/lib/rpm/*' | sort); }
# Whether binary $1 (the .rpm's) is binary $2 (the .deb's) but for the one place
# where Tauri's bundler wrote the package type: __TAURI_BUNDLE_TYPE_VAR_RPM against
# _DEB. (The binary also holds every type's marker as a constant; those must match.)
same_but_bundle_type() {
  python3 - "$1" "$2" <<'PY'
import sys
rpm, deb = (open(p, "rb").read() for p in sys.argv[1:3])
marker = b"__TAURI_BUNDLE_TYPE_VAR_"
i = deb.find(marker)
while i != -1:
    at = i + len(marker)
    if rpm[at:at + 3] == b"RPM" and deb[at:at + 3] == b"DEB":
        sys.exit(0 if rpm[:at] + b"DEB" + rpm[at + 3:] == deb else 1)
    i = deb.find(marker, at)
sys.exit(1)
PY
}
payload "$scratch/deb-root" >"$scratch/deb-payload"
[ -s "$scratch/deb-payload" ] || { echo "error: the .deb holds no files" >&2; exit 1; }
payload "$root" | diff "$scratch/deb-payload" - \
  || { echo "error: the .rpm and the .deb install different files" >&2; exit 1; }
binrel="./usr/bin/$(basename "$bin")"
grep -qxF "$binrel" "$scratch/deb-payload" || { echo "error: no $binrel in the packages" >&2; exit 1; }
while IFS= read -r f; do
  if [ "$f" = "$binrel" ]; then
    same_but_bundle_type "$root/$f" "$scratch/deb-root/$f"
  else
    cmp "$root/$f" "$scratch/deb-root/$f"
  fi || { echo "error: $f differs between the .rpm and the .deb" >&2; exit 1; }
done <"$scratch/deb-payload"
echo "the .rpm installs the .deb's $(wc -l <"$scratch/deb-payload") files"
desktop-file-validate "$root"/usr/share/applications/*.desktop
UPLINK_APP_BIN="$root/${binrel#./}" scripts/e2e.sh s1_first_start
quiet_rpm -e --nodeps "${rpmdb[@]}" "$rpmname"
if rpm -q "${rpmdb[@]}" "$rpmname" >/dev/null 2>&1; then
  echo "error: rpm did not remove $rpmname" >&2; exit 1
fi
[ -z "$(payload "$root")" ] || { echo "error: rpm left files behind:" >&2; payload "$root" >&2; exit 1; }
echo "rpm installed and removed $rpmname; nothing of it is left"
rm -rf "$scratch"
