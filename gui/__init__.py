"""The desktop app: PySide6 views over the neutral Graph and the engine's events."""
