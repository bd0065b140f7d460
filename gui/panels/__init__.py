"""Dockable panels around the graph view: Node and Log now, the debugger's later."""

from gui.panels.log_panel import LogPanel
from gui.panels.node_panel import NodePanel

__all__ = ["LogPanel", "NodePanel"]
