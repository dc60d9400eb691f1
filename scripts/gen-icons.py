#!/usr/bin/env python3
"""Writes Uplink's application icon, icons/source.png (1024 x 1024), with the
standard library only. Every format the platforms need (PNGs at each size, .ico,
.icns) is made from it by the Tauri CLI: `scripts/gen-icons.sh`.

A dark rounded square with a green disc inside a white ring: "connected".
The tray icons are drawn at run time by src-tauri/src/icon.rs, one per state.
"""
import math
import struct
import sys
import zlib
from pathlib import Path


def png(width, height, rgba):
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgba[y * width * 4:(y + 1) * width * 4]) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def icon(n):
    out = []
    c = n / 2
    radius = n * 0.22  # corner radius of the square
    for y in range(n):
        for x in range(n):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(4):
                for sx in range(4):
                    px, py = x + (sx + 0.5) / 4, y + (sy + 0.5) / 4
                    # Rounded square.
                    qx = max(abs(px - c) - (c - radius), 0)
                    qy = max(abs(py - c) - (c - radius), 0)
                    if math.hypot(qx, qy) > radius:
                        continue
                    r = math.hypot(px - c, py - c)
                    if r <= n * 0.20:
                        col = (0x22, 0xC5, 0x5E)
                    elif n * 0.27 <= r <= n * 0.33:
                        col = (0xF8, 0xFA, 0xFC)
                    else:
                        col = (0x0F, 0x17, 0x2A)
                    acc[0] += col[0]
                    acc[1] += col[1]
                    acc[2] += col[2]
                    acc[3] += 255
            k = acc[3] / 255
            if k:
                out += [round(acc[0] / k), round(acc[1] / k), round(acc[2] / k), round(acc[3] / 16)]
            else:
                out += [0, 0, 0, 0]
    return png(n, n, out)


def main():
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "icons")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "source.png").write_bytes(icon(1024))
    print(dest / "source.png")


if __name__ == "__main__":
    main()
