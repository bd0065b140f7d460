"""The list trees the panels show (breakpoints, inputs, watches, the Log): one setup."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QFrame, QTreeWidget


def list_tree(
    headers: Sequence[str],
    *,
    multi_select: bool = True,
    decorated: bool = False,
    uniform_rows: bool = True,
    framed: bool = False,
) -> QTreeWidget:
    """A tree of rows with `headers`, alternating row colours; several rows may be
    selected (`multi_select`), a row may open (`decorated`)."""
    tree = QTreeWidget()
    tree.setColumnCount(len(headers))
    tree.setHeaderLabels(list(headers))
    tree.setRootIsDecorated(decorated)
    tree.setAlternatingRowColors(True)
    tree.setUniformRowHeights(uniform_rows)
    mode = QAbstractItemView.SelectionMode
    tree.setSelectionMode(mode.ExtendedSelection if multi_select else mode.SingleSelection)
    if not framed:
        tree.setFrameShape(QFrame.Shape.NoFrame)
    return tree
