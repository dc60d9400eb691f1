#!/usr/bin/env bash
# Makes every application icon from one source image: icons/source.png (drawn by
# gen-icons.py), then the Tauri CLI's `icon` command for the PNG sizes, .ico
# (Windows) and .icns (macOS) that tauri.conf.json lists. Run after changing the icon.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/gen-icons.py icons
(cd ui && npm install --no-audit --no-fund >/dev/null)
ui/node_modules/.bin/tauri icon icons/source.png --output icons
# Mobile icons are not ours to ship.
rm -rf icons/android icons/ios
# Linux's icon theme has a plain 256x256 size (the bundler would file "@2x" under
# a non-standard 256x256@2 folder).
cp icons/128x128@2x.png icons/256x256.png
