"""What the app remembers between runs: window layout, recent models, capture choice.

The location is the platform default for organisation and application "Graphstep",
unless a path is given (tests) or the `GRAPHSTEP_SETTINGS` environment variable names
an INI file.
"""

from __future__ import annotations

import hashlib
import json
import os

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 10
CAPTURE_CHOICES = ("auto", "fx", "export", "eager", "function")


class Settings:
    """Typed access to the QSettings keys Graphstep uses."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        path = path or os.environ.get("GRAPHSTEP_SETTINGS")
        if path:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings("Graphstep", "Graphstep")

    # -- models -----------------------------------------------------------------

    def recent_models(self) -> list[str]:
        value = self.qsettings.value("models/recent", [])
        if isinstance(value, str):  # QSettings returns a lone item as a string
            value = [value]
        return [str(v) for v in (value or []) if str(v)]

    def add_recent(self, spec: str) -> list[str]:
        """Put `spec` first in the recent list (at most MAX_RECENT) and return the list."""
        recent = [spec] + [s for s in self.recent_models() if s != spec]
        recent = recent[:MAX_RECENT]
        self.qsettings.setValue("models/recent", recent)
        self.qsettings.setValue("models/last", spec)
        return recent

    def clear_recent(self) -> None:
        self.qsettings.setValue("models/recent", [])

    def last_model(self) -> str | None:
        value = self.qsettings.value("models/last", "")
        return str(value) if value else None

    # -- capture ----------------------------------------------------------------

    def capture_strategy(self) -> str:
        value = str(self.qsettings.value("capture/strategy", "auto"))
        return value if value in CAPTURE_CHOICES else "auto"

    def set_capture_strategy(self, strategy: str) -> None:
        self.qsettings.setValue("capture/strategy", strategy)

    # -- debugger ---------------------------------------------------------------------

    def value_budget(self) -> int:
        """Bytes of full values a session keeps (default 1 GiB)."""
        try:
            value = int(self.qsettings.value("debug/value_budget", 1 << 30))
        except (TypeError, ValueError):
            return 1 << 30
        return max(value, 1 << 20)

    def set_value_budget(self, nbytes: int) -> None:
        self.qsettings.setValue("debug/value_budget", int(nbytes))

    def step_plumbing(self) -> bool:
        """Whether stepping pauses on plumbing (Identity, ReadVariableOp, ...) too."""
        return str(self.qsettings.value("debug/step_plumbing", "false")).lower() == "true"

    def set_step_plumbing(self, show: bool) -> None:
        self.qsettings.setValue("debug/step_plumbing", "true" if show else "false")

    # -- per model: breakpoints and watches -----------------------------------------

    def model_state(self, spec: str) -> dict:
        """What the debugger saved for `spec` (breakpoints, watches); {} when nothing."""
        raw = self.qsettings.value(f"model/{_key(spec)}", "")
        try:
            value = json.loads(str(raw)) if raw else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def set_model_state(self, spec: str, state: dict) -> None:
        self.qsettings.setValue(f"model/{_key(spec)}", json.dumps(state))

    # -- window -----------------------------------------------------------------

    def window_geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        self.qsettings.sync()


def _key(spec: str) -> str:
    """A settings key for a model spec (paths hold characters QSettings keys do not like)."""
    return hashlib.sha1(spec.encode()).hexdigest()[:16]
