"""The one error type of the library; the CLI and the app turn it into words."""


class GitopsError(Exception):
    """A problem the person running the tool can fix; the message says how."""
