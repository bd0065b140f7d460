"""Debugging: the engine as signals (`engine`), the run as its events tell it
(`run_model`), loading jobs (`loader`) and the debugger controller with its panels."""
