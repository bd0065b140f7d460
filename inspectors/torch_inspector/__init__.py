"""Everything that imports torch: graph capture (fx, export, eager) and their steppers.

Nothing outside this package imports torch, so Graphstep starts and opens TensorFlow
models on a machine without torch installed.
"""
