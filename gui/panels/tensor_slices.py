"""Which 2-D picture or 1-D curve to draw from an N-D array, copying no more than is drawn.

Qt-free numpy for the Tensor panel. Slicing comes first and returns views, striding
for display comes next, and only then is anything converted to float32: a
[64, 512, 56, 56] activation costs one channel's pixels, not the whole tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Largest side, in pixels, of an image handed to the heatmap; bigger slices are strided.
MAX_SIDE = 1024
#: Most points handed to the line plot; longer vectors become per-bucket min/max pairs.
MAX_LINE_POINTS = 20_000
#: Pixels between tiles of a channel grid.
GRID_GAP = 1

#: RGBA of non-finite pixels drawn over the heatmap: colours no diverging map uses.
NAN_RGBA = (230, 0, 230, 255)
POS_INF_RGBA = (255, 214, 0, 255)
NEG_INF_RGBA = (0, 214, 255, 255)
#: RGBA of the lines between tiles of a channel grid.
GAP_RGBA = (60, 70, 80, 255)


@dataclass(frozen=True)
class SliceLayout:
    """How an N-D array becomes a 2-D image: the axes picked by index, and the image axes."""

    picked: tuple[tuple[int, str], ...]  # (axis, name shown next to its spin box)
    rows: int  # axis drawn downwards
    cols: int  # axis drawn across
    channel_axis: int | None = None  # for 4-D activations: the axis a channel grid tiles


def guess_layout(shape: tuple[int, ...], device: str = "") -> str:
    """ "NCHW" or "NHWC" for a 4-D activation, from its shape and the framework's device name.

    Square spatial dims decide when they can (`[N, 64, 56, 56]` vs `[N, 56, 56, 64]`);
    otherwise TensorFlow device names (`/job:.../device:CPU:0`) mean channels-last.
    """
    if len(shape) != 4:
        return "NCHW"
    _, a, b, c = shape
    if b == c:
        return "NCHW"
    if a == b:
        return "NHWC"
    return "NHWC" if "device:" in device.lower() else "NCHW"


def slice_layout(ndim: int, layout: str = "NCHW") -> SliceLayout:
    """The picked axes and image axes for an array of rank `ndim` (>= 2)."""
    if ndim == 4 and layout == "NHWC":
        return SliceLayout(((0, "batch"), (3, "channel")), 1, 2, channel_axis=3)
    if ndim == 4:
        return SliceLayout(((0, "batch"), (1, "channel")), 2, 3, channel_axis=1)
    picked = tuple((axis, f"dim {axis}") for axis in range(ndim - 2))
    return SliceLayout(picked, ndim - 2, ndim - 1)


def take_slice(array: np.ndarray, layout: SliceLayout, picks: tuple[int, ...]) -> np.ndarray:
    """The 2-D view `array[picks..., :, :]` along the layout's image axes (no copy)."""
    index: list[int | slice] = [slice(None)] * array.ndim
    for (axis, _), i in zip(layout.picked, picks, strict=True):
        index[axis] = int(i)
    return array[tuple(index)]


def full_index(layout: SliceLayout, picks: tuple[int, ...], row: int, col: int) -> tuple[int, ...]:
    """The index into the full array of pixel (row, col) of the slice at `picks`."""
    index = [0] * (len(layout.picked) + 2)
    for (axis, _), i in zip(layout.picked, picks, strict=True):
        index[axis] = int(i)
    index[layout.rows] = row
    index[layout.cols] = col
    return tuple(index)


def display_step(height: int, width: int, max_side: int = MAX_SIDE) -> int:
    """The stride that brings an image of height x width within max_side x max_side."""
    return max(1, math.ceil(max(height, width) / max_side))


def as_display(values: np.ndarray) -> np.ndarray:
    """Contiguous float32 for drawing: booleans as 0/1, complex numbers as magnitudes."""
    if np.issubdtype(values.dtype, np.complexfloating):
        values = np.abs(values)
    elif not np.issubdtype(values.dtype, np.number):
        values = values.astype(np.uint8) if values.dtype == np.bool_ else np.zeros(values.shape)
    with np.errstate(over="ignore"):  # float64 beyond float32's range shows as inf
        return np.ascontiguousarray(values, dtype=np.float32)


def display_image(view: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, int]:
    """A 2-D view as a float32 image within max_side, and the stride used."""
    step = display_step(view.shape[0], view.shape[1], max_side)
    return as_display(view[::step, ::step]), step


def symmetric_levels(image: np.ndarray) -> tuple[float, float]:
    """Colour levels centred at zero that span the finite values of `image`."""
    finite = image[np.isfinite(image)]
    if not finite.size:
        return -1.0, 1.0
    bound = float(max(abs(float(finite.min())), abs(float(finite.max()))))
    if bound == 0.0:
        bound = 1.0
    return -bound, bound


def nonfinite_rgba(image: np.ndarray) -> np.ndarray | None:
    """An RGBA layer marking NaN, +inf and -inf pixels of `image`, or None when all are finite."""
    finite = np.isfinite(image)
    if finite.all():
        return None
    rgba = np.zeros(image.shape + (4,), dtype=np.uint8)
    rgba[np.isnan(image)] = NAN_RGBA
    rgba[np.isposinf(image)] = POS_INF_RGBA
    rgba[np.isneginf(image)] = NEG_INF_RGBA
    return rgba


@dataclass(frozen=True)
class ChannelGrid:
    """All channels of one batch item tiled row by row into one image (gaps are NaN)."""

    image: np.ndarray  # float32; NaN between tiles and after the last tile
    overlay: np.ndarray  # RGBA: the gaps between tiles, and marks of non-finite values
    rows: int
    cols: int
    count: int  # channels tiled
    tile: tuple[int, int]  # (height, width) of one tile as drawn
    step: int  # display stride applied to each channel

    def locate(self, y: int, x: int) -> tuple[int, int, int] | None:
        """(channel, row, column) in the original channel under image pixel (y, x); None in a gap."""
        if y < 0 or x < 0:
            return None
        th, tw = self.tile
        ty, ry = divmod(y, th + GRID_GAP)
        tx, rx = divmod(x, tw + GRID_GAP)
        channel = ty * self.cols + tx
        if ry >= th or rx >= tw or not (0 <= tx < self.cols) or channel >= self.count:
            return None
        return channel, ry * self.step, rx * self.step


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid holding `count` tiles."""
    cols = max(1, math.ceil(math.sqrt(count)))
    return max(1, math.ceil(count / cols)), cols


def channel_grid(
    array: np.ndarray, batch: int, layout: str = "NCHW", max_side: int = MAX_SIDE
) -> ChannelGrid:
    """Tile every channel of `array[batch]` (4-D, NCHW or NHWC) into one image within max_side."""
    item = array[batch]
    channels = item if layout == "NCHW" else np.moveaxis(item, -1, 0)  # views: (C, H, W)
    count, height, width = channels.shape
    rows, cols = grid_shape(count)
    step = display_step(rows * (height + GRID_GAP), cols * (width + GRID_GAP), max_side)
    tiles = as_display(channels[:, ::step, ::step])
    th, tw = tiles.shape[1:]
    image = _tile(tiles, rows, cols, np.float32(np.nan))
    marks = nonfinite_rgba(tiles)
    if marks is None:
        marks = np.zeros(tiles.shape + (4,), dtype=np.uint8)
    overlay = _tile(marks, rows, cols, np.uint8(0))
    inside = _tile(np.ones(tiles.shape, dtype=np.bool_), rows, cols, np.bool_(False))
    overlay[~inside] = GAP_RGBA
    return ChannelGrid(image, overlay, rows, cols, count, (th, tw), step)


def _tile(stack: np.ndarray, rows: int, cols: int, fill: np.generic) -> np.ndarray:
    """(C, h, w[, k]) -> one (rows*(h+gap)-gap, cols*(w+gap)-gap[, k]) image, row by row."""
    count, h, w = stack.shape[:3]
    extra = stack.shape[3:]
    padded = np.full((rows * cols, h + GRID_GAP, w + GRID_GAP) + extra, fill, dtype=stack.dtype)
    padded[:count, :h, :w] = stack
    grid = padded.reshape((rows, cols, h + GRID_GAP, w + GRID_GAP) + extra)
    grid = grid.swapaxes(1, 2).reshape((rows * (h + GRID_GAP), cols * (w + GRID_GAP)) + extra)
    return np.ascontiguousarray(grid[:-GRID_GAP, :-GRID_GAP])


def line_points(
    values: np.ndarray, max_points: int = MAX_LINE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a 1-D array for a line plot; long arrays keep each bucket's min and max.

    Reductions run on views in the array's own dtype, so a 100M-element vector is
    never copied whole. `fmin`/`fmax` skip NaN without warnings; an all-NaN bucket stays NaN.
    """
    n = int(values.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.float64), as_display(values)
    step = math.ceil(n / (max_points // 2))
    whole = (n // step) * step
    blocks = values[:whole].reshape(-1, step)
    lo = np.fmin.reduce(blocks, axis=1)
    hi = np.fmax.reduce(blocks, axis=1)
    starts = np.arange(0, whole, step, dtype=np.float64)
    if whole < n:
        tail = values[whole:]
        lo = np.append(lo, np.fmin.reduce(tail))
        hi = np.append(hi, np.fmax.reduce(tail))
        starts = np.append(starts, float(whole))
    x = np.repeat(starts, 2)
    x[1::2] += step / 2
    y = np.empty(x.shape, dtype=np.float32)
    y[0::2] = as_display(lo)
    y[1::2] = as_display(hi)
    return x, y
