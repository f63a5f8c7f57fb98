"""Errors the user can fix, reported as one line by the command line."""


class UserError(Exception):
    """A problem with the user's input: a missing file, a bad argument, a broken submission path."""
