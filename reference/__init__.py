"""The reference solution: the single source of truth for test vectors and the student template."""
