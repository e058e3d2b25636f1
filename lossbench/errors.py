"""The one exception type for mistakes a user can fix.

A ``ConfigError`` is shown as a single line (no traceback) and ends a single run
with exit code 2; in a multirun it is recorded as the job's failure and the
sweep goes on.
"""

EXIT_USAGE = 2


class ConfigError(ValueError):
    """A user-fixable problem: the message names the key and what is allowed."""
