#!/usr/bin/env python3
"""Draw the app icons (icon-192.png, icon-512.png) with the standard library only.

A white location pin on a dark teal square, inside the maskable safe zone
(the central 80%), so launchers may crop it to any shape. Run from this
folder: python3 make_icons.py
"""
import math
import struct
import zlib

BACKGROUND = (13, 92, 99)
PIN = (255, 255, 255)


def pixel(x, y):
    """The colour at (x, y) in a unit square."""
    # Pin head: a ring centred at (0.5, 0.42); a hole in the middle.
    cx, cy, r = 0.5, 0.42, 0.2
    d = math.hypot(x - cx, y - cy)
    if d <= r and d >= r * 0.42:
        return PIN
    # Pin tail: a triangle from the head down to a point at y = 0.8.
    if cy < y <= 0.8:
        half = r * (0.8 - y) / (0.8 - cy) * 0.93
        if abs(x - cx) <= half and d > r * 0.42:
            return PIN
    return BACKGROUND


def png(size):
    rows = []
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            # 2x2 supersampling for smooth edges.
            acc = [0, 0, 0]
            for dx in (0.25, 0.75):
                for dy in (0.25, 0.75):
                    c = pixel((i + dx) / size, (j + dy) / size)
                    for k in range(3):
                        acc[k] += c[k]
            row.extend(v // 4 for v in acc)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


for size in (192, 512):
    with open(f"app/icon-{size}.png", "wb") as f:
        f.write(png(size))
