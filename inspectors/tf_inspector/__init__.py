"""Everything that imports TensorFlow: capture of concrete functions (and later the stepper).

TensorFlow is imported only inside this package, so the rest of Graphstep starts without
it. Its C++ log chatter is turned down here, before the first import: every module of
this package imports TensorFlow, and Python runs this file before any of them.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
