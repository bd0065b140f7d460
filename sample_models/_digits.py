"""Handwritten-looking 28x28 digits drawn with numpy, for the digits CNN samples.

Each digit 0-9 is a few strokes (lines and arcs) in a unit box. A drawn digit gets its
own slant, size, offset and pen thickness, is rendered by distance to the strokes
(soft edges, like a scanned pen), and gets a little noise. Values are in [0, 1], the
background is 0, ink is near 1. The same seed always gives the same images, and
`labels_of` finds the labels of a recently drawn batch from its images alone (for a
`loss(output, images)` that is only given the images).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

SIZE = 28

#: Labels of the most recent batches drawn, by the images' contents, for `labels_of`.
_KNOWN: OrderedDict[tuple[int, tuple[int, ...]], np.ndarray] = OrderedDict()
_KNOWN_MAX = 64


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> np.ndarray:
    """Points along an ellipse arc; angles in degrees, 0 = right, 90 = down (image axes)."""
    angles = np.radians(np.linspace(start, stop, 16))
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def _line(*points: tuple[float, float]) -> np.ndarray:
    return np.asarray(points, dtype=np.float64)


#: Strokes of each digit as polylines in a unit box: x to the right, y downward.
STROKES: dict[int, list[np.ndarray]] = {
    0: [_arc(0.5, 0.5, 0.27, 0.38, 0, 360)],
    1: [_line((0.36, 0.25), (0.52, 0.12), (0.52, 0.88))],
    2: [
        _arc(0.5, 0.33, 0.23, 0.2, 190, 375),
        _line((0.72, 0.38), (0.26, 0.87), (0.78, 0.87)),
    ],
    3: [_arc(0.48, 0.3, 0.22, 0.18, 200, 450), _arc(0.48, 0.68, 0.25, 0.2, -90, 160)],
    4: [_line((0.62, 0.12), (0.22, 0.64), (0.8, 0.64)), _line((0.64, 0.36), (0.64, 0.9))],
    5: [
        _line((0.74, 0.13), (0.34, 0.13), (0.3, 0.46)),
        _arc(0.5, 0.64, 0.24, 0.22, -130, 150),
    ],
    6: [_arc(0.62, 0.52, 0.3, 0.4, 250, 170), _arc(0.5, 0.68, 0.2, 0.19, 0, 360)],
    7: [_line((0.24, 0.14), (0.78, 0.14), (0.42, 0.88))],
    8: [_arc(0.5, 0.3, 0.18, 0.17, 0, 360), _arc(0.5, 0.69, 0.22, 0.2, 0, 360)],
    9: [_arc(0.5, 0.33, 0.2, 0.19, 0, 360), _arc(0.38, 0.48, 0.32, 0.4, -10, 80)],
}

_CENTRES = np.stack(np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="xy"), -1) + 0.5
_PIXELS = _CENTRES.reshape(-1, 2)  # (784, 2) pixel centres as (x, y)


def _distance_to_segments(points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each point, the distance to the nearest of the segments starts[i] -> ends[i]."""
    direction = ends - starts  # (S, 2)
    length2 = np.maximum((direction**2).sum(1), 1e-9)
    rel = points[:, None, :] - starts[None, :, :]  # (P, S, 2)
    t = np.clip((rel * direction[None]).sum(-1) / length2, 0.0, 1.0)
    nearest = starts[None] + t[..., None] * direction[None]
    return np.sqrt(((points[:, None, :] - nearest) ** 2).sum(-1)).min(1)


def draw(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 float32 image of `digit` with random slant, size, offset, pen and noise."""
    slant = rng.uniform(-0.35, 0.25)  # x shifts by slant * (distance above the middle)
    rotate = np.radians(rng.uniform(-8, 8))
    scale = rng.uniform(17.0, 21.5)  # pixels the unit box spans
    stretch = rng.uniform(0.85, 1.1)  # width / height
    offset = rng.uniform(-2.0, 2.0, size=2)
    pen = rng.uniform(1.0, 1.9)  # half the stroke width, in pixels

    cos, sin = np.cos(rotate), np.sin(rotate)
    segments = []
    for stroke in STROKES[digit]:
        p = stroke - 0.5
        p = np.stack([p[:, 0] * stretch - slant * p[:, 1], p[:, 1]], axis=1)
        p = np.stack([cos * p[:, 0] - sin * p[:, 1], sin * p[:, 0] + cos * p[:, 1]], axis=1)
        p = p * scale + SIZE / 2 + offset
        p = p + rng.normal(0.0, 0.35, size=p.shape)  # a wobbly hand
        segments.append((p[:-1], p[1:]))
    starts = np.concatenate([s for s, _ in segments])
    ends = np.concatenate([e for _, e in segments])

    distance = _distance_to_segments(_PIXELS, starts, ends).reshape(SIZE, SIZE)
    ink = np.clip(pen + 0.5 - distance, 0.0, 1.0)  # one pixel of soft edge
    ink = ink * rng.uniform(0.8, 1.0)
    ink = ink + rng.normal(0.0, 0.06, size=ink.shape)
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def batch(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`size` images (size, 28, 28) float32 in [0, 1] and their labels (size,) int64."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=size)
    images = np.stack([draw(int(label), rng) for label in labels])
    labels = labels.astype(np.int64)
    _KNOWN[_key(images)] = labels
    while len(_KNOWN) > _KNOWN_MAX:
        _KNOWN.popitem(last=False)
    return images, labels


def _key(images: np.ndarray) -> tuple[int, tuple[int, ...]]:
    flat = np.ascontiguousarray(images, dtype=np.float32).reshape(len(images), -1)
    return hash(flat.tobytes()), flat.shape


def labels_of(images: np.ndarray) -> np.ndarray | None:
    """The labels of a recently drawn batch (any layout: N,28,28 / NCHW / NHWC), or None."""
    return _KNOWN.get(_key(np.asarray(images)))


def batches(count: int, size: int, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`count` batches, each from its own seed derived from `seed`: the same every time."""
    for index in range(count):
        yield batch(size, seed=seed * 100_003 + index + 1)
