"""The one exception type a user can cause: the CLI prints it as a single line."""


class UserError(Exception):
    """A mistake in what the user asked for (bad path, unknown feed, bad URL).

    The message says what went wrong and what to do next; the CLI prints it
    on one line and exits non-zero, never with a traceback.
    """
