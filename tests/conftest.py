"""Test configuration: offscreen Qt, quiet TensorFlow, deterministic seeds."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Windows run their engine in a thread unless a test asks for a process
# (tests/gui/test_engine_process.py): tests then read the model's own answers from it.
os.environ.setdefault("GRAPHSTEP_ENGINE", "thread")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
