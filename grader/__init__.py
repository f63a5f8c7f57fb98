"""backprop-autograder: grades the NumPy backprop assignment, locally and on Gradescope."""
__version__ = "0.1.0"
