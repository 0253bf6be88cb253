"""The one base class of failures that are expected and told to the user in one line.

A missing database, a port already taken, an export folder that cannot be written: the
command line prints the message and exits, with no traceback. Anything else is a bug and keeps
its traceback. One base class, imported by the modules that raise these, lets the CLI catch
them without naming their classes or importing their (sometimes heavy) modules.
"""

from __future__ import annotations

import sqlite3


class ExpectedError(RuntimeError):
    """A failure whose message is meant for the user as it stands."""


# The database driver's own error base, named here so that bot/ (which never talks to the
# database itself) can report a broken database file in one line without importing the driver.
DatabaseError = sqlite3.Error
