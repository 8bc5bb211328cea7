"""Errors the command line turns into exit codes.

:class:`InputError` is bad input (a scenario, a dictionary, an argument): exit 2.
:class:`RunError` is a failure of the run itself: exit 1.
"""


class InputError(Exception):
    """Bad input; the message names the file, the field and what was expected."""


class RunError(Exception):
    """The run itself failed."""
