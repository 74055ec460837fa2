"""The ``symphainy-gitops`` command: parse options, call the library, report.

Exit codes: 0 valid, 1 findings (or a refused action), 2 usage or internal
error. Library errors reach the user as one ``Error: …`` line on stderr. Each
module of this package adds the commands of one job to the group.
"""

from . import edit, gateway, history, inspect, remote, server
from .base import cli, main

__all__ = ["cli", "edit", "gateway", "history", "inspect", "main", "remote", "server"]
