"""Colours and PNG images for the static pictures: the viridis colour map and a tiny PNG encoder.

Heatmaps in the static pictures (:mod:`labkit.widgets.svg`) are embedded as small PNG images;
the attention explorer's JavaScript uses the same viridis colours. Taught in chapter 0 (how the
course's pictures work).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["png_bytes", "viridis"]

# Nine samples of matplotlib's viridis colour map; the JavaScript side uses the same ones.
_VIRIDIS_ANCHORS = np.array(
    [
        [68, 1, 84],
        [71, 45, 123],
        [59, 82, 139],
        [44, 114, 142],
        [33, 145, 140],
        [40, 174, 128],
        [94, 201, 98],
        [173, 220, 48],
        [253, 231, 37],
    ],
    dtype=np.float64,
)


def viridis(values: np.ndarray) -> np.ndarray:
    """Map numbers in [0, 1] to RGB colours ``uint8 (..., 3)`` (dark purple → yellow).

    Used by the static pictures (chapter 0) and, with the same colours, the explorer."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    pos = v * (len(_VIRIDIS_ANCHORS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_VIRIDIS_ANCHORS) - 2)
    frac = (pos - lo)[..., None]
    rgb = _VIRIDIS_ANCHORS[lo] * (1 - frac) + _VIRIDIS_ANCHORS[lo + 1] * frac
    return np.round(rgb).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an RGB image ``uint8 (height, width, 3)`` as PNG (zlib + the PNG chunk format).

    Used by the static pictures (chapter 0) to embed heatmaps."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"png_bytes needs a non-empty (height, width, 3) array, got {rgb.shape}")
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)

    def chunk(tag: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
