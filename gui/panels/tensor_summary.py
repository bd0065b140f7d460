"""The top of the Tensor panel: what a `TensorSummary` says, compact enough for a narrow dock.

A header (shape, dtype, device, size), a row of statistics, a bar of the sign split and
health chips (negative / zero / positive / NaN / -inf / +inf) that turn red or orange
when something is not finite.
"""

from __future__ import annotations

import html
import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.panels.formatting import compact_count
from inspectors.tensors import TensorSummary

TEXT = "#1f2933"
TEXT_SOFT = "#5f6b7a"
CHIP_BG = "#eef1f5"
NAN_COLOR = "#d93025"  # the graph's error red
INF_COLOR = "#e8710a"
NEGATIVE_COLOR = "#3b6fd6"
ZERO_COLOR = "#b8c0cc"
POSITIVE_COLOR = "#d0453a"

#: Health chips in display order: (summary field, label).
HEALTH_FIELDS: tuple[tuple[str, str], ...] = (
    ("negative", "neg"),
    ("zero", "zero"),
    ("positive", "pos"),
    ("nan", "NaN"),
    ("neg_inf", "−inf"),
    ("pos_inf", "+inf"),
)


def format_number(x: float) -> str:
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "+inf" if x > 0 else "−inf"
    return f"{x:.4g}"


def format_count(n: int) -> str:
    """`1,234` below a hundred thousand, else `123 K`, `4.56 M`."""
    return compact_count(n, plain_below=100_000)


def format_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def chip_style(background: str, foreground: str, bold: bool = False) -> str:
    weight = "bold" if bold else "normal"
    return (
        f"QLabel {{ background: {background}; color: {foreground}; border-radius: 3px;"
        f" padding: 1px 5px; font-weight: {weight}; }}"
    )


class SignBar(QWidget):
    """A thin bar split in the proportions of negative, zero, positive and non-finite values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(5)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._parts: list[tuple[int, str]] = []

    def set_counts(self, parts: list[tuple[int, str]]) -> None:
        self._parts = [(n, c) for n, c in parts if n > 0]
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        total = sum(n for n, _ in self._parts)
        if not total:
            return
        painter = QPainter(self)
        painter.setPen(Qt.PenStyle.NoPen)
        x = 0.0
        for n, colour in self._parts:
            width = self.width() * n / total
            painter.setBrush(QColor(colour))
            painter.drawRect(QRectF(x, 0, max(width, 1.0), self.height()))
            x += width
        painter.end()


class SummaryView(QWidget):
    """Shape, statistics and health counts of one summary.

    Attributes for tests and inspection: `header_label` (shape, dtype, device, size),
    `stats_label` (min / max / mean / std / |max|), `health_labels` (a chip per field
    of `HEALTH_FIELDS`; its `alert` property is "nan", "inf" or ""), `sign_bar`, and
    `text_label` (the kind and text of a non-tensor output).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)

        self.header_label = QLabel()
        self.header_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header_label.setWordWrap(True)
        layout.addWidget(self.header_label)

        self.stats_label = QLabel()
        self.stats_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.stats_label)

        self.sign_bar = SignBar()
        layout.addWidget(self.sign_bar)

        chips = QGridLayout()
        chips.setContentsMargins(0, 0, 0, 0)
        chips.setHorizontalSpacing(4)
        chips.setVerticalSpacing(3)
        self.health_labels: dict[str, QLabel] = {}
        for i, (name, _) in enumerate(HEALTH_FIELDS):
            chip = QLabel()
            chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
            chip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            chips.addWidget(chip, i // 3, i % 3)
            self.health_labels[name] = chip
        layout.addLayout(chips)

        self.text_label = QLabel()
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text_label)
        self.set_summary(None)

    def set_summary(self, summary: TensorSummary | None, what: str = "value") -> None:
        """Show `summary`; None shows that there is no `what` (value or gradient) here."""
        tensor = summary is not None and summary.is_tensor
        for widget in (self.stats_label, self.sign_bar, *self.health_labels.values()):
            widget.setVisible(tensor)
        self.text_label.setVisible(not tensor)
        if summary is None:
            self.header_label.setText(f"<span style='color:{TEXT_SOFT}'>No {what} recorded.</span>")
            self.text_label.clear()
            self.text_label.setVisible(False)
            return
        if not summary.is_tensor:
            self.header_label.setText(
                f"<b style='color:{TEXT}'>{html.escape(summary.kind)}</b>"
                f" <span style='color:{TEXT_SOFT}'>not a tensor</span>"
            )
            self.text_label.setText(
                f"<span style='font-family:monospace'>{html.escape(summary.text, quote=False)}</span>"
            )
            return
        self.header_label.setText(self._header_html(summary))
        self.stats_label.setText(self._stats_html(summary))
        self.sign_bar.set_counts(
            [
                (summary.negative, NEGATIVE_COLOR),
                (summary.zero, ZERO_COLOR),
                (summary.positive, POSITIVE_COLOR),
                (summary.nan, NAN_COLOR),
                (summary.inf, INF_COLOR),
            ]
        )
        total = max(summary.size, 1)
        for name, label in HEALTH_FIELDS:
            count = int(getattr(summary, name))
            chip = self.health_labels[name]
            chip.setText(f"{label} {format_count(count)}")
            chip.setToolTip(f"{count:,} {label} values ({100 * count / total:.3g}%)")
            alert = ""
            if count and name == "nan":
                alert = "nan"
            elif count and name in ("neg_inf", "pos_inf"):
                alert = "inf"
            chip.setProperty("alert", alert)
            if alert == "nan":
                chip.setStyleSheet(chip_style(NAN_COLOR, "white", bold=True))
            elif alert == "inf":
                chip.setStyleSheet(chip_style(INF_COLOR, "white", bold=True))
            elif count:
                chip.setStyleSheet(chip_style(CHIP_BG, TEXT))
            else:
                chip.setStyleSheet(chip_style(CHIP_BG, "#a3acb8"))

    def _header_html(self, s: TensorSummary) -> str:
        parts = [
            f"<b style='color:{TEXT}; font-family:monospace'>{shape_text(s.shape)}</b>",
            f"<span style='color:{TEXT}'>{html.escape(s.dtype)}</span>",
        ]
        soft = [html.escape(_short_device(s.device))]
        if s.size:  # a number and its unit never part at a line break
            soft.append(f"{format_count(s.size)} values".replace(" ", "&nbsp;"))
            soft.append(format_bytes(s.nbytes).replace(" ", "&nbsp;"))
        return " ".join(parts) + f" <span style='color:{TEXT_SOFT}'>· {' · '.join(soft)}</span>"

    def _stats_html(self, s: TensorSummary) -> str:
        """Two rows of three cells, so a narrow dock shows every statistic."""
        rows = (
            (("min", s.min), ("max", s.max), ("mean", s.mean)),
            (("std", s.std), ("|max|", s.abs_max)),
        )
        return (
            "<table cellspacing='0' cellpadding='0'>"
            + "".join(
                "<tr>"
                + "".join(
                    f"<td style='padding-right:12px; padding-bottom:2px'>"
                    f"<span style='color:{TEXT_SOFT}'>{k}</span><br>"
                    f"<span style='font-family:monospace; color:{TEXT}'>"
                    f"{format_number(v)}</span></td>"
                    for k, v in row
                )
                + "</tr>"
                for row in rows
            )
            + "</table>"
        )


def _short_device(device: str) -> str:
    """`/job:localhost/replica:0/task:0/device:CPU:0` -> `CPU:0`; torch names unchanged."""
    if "device:" in device:
        return device.rsplit("device:", 1)[1]
    return device or "cpu"
