"""Graphstep's headless core: capture, stepping, values. Imports no Qt."""

__version__ = "0.1.0"
