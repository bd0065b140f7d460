"""Names the user reads: the application's, and each framework's."""

from __future__ import annotations

APP_NAME = "Graphstep"
FRAMEWORK_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}

__all__ = ["APP_NAME", "FRAMEWORK_NAMES"]
