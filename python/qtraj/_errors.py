"""qtraj's exception types. The compiled module raises these with the CLI's one-line messages
(``qtraj run`` prints the same text after ``qtraj: error:``)."""


class Error(Exception):
    """Base of every qtraj error."""


class InputError(Error, ValueError):
    """Bad input: ``str(e)`` is the CLI's one line, ``"<field>: <message> (got <value>)"``;
    ``e.field`` names the run-file key (e.g. ``"system.domains[2]"``)."""

    field: str = ""


class IoError(Error, OSError):
    """A file could not be read or written."""


class NotCompiledError(Error):
    """A feature this build lacks (``solver.backend = "cuda"`` on a CPU-only module)."""


class DeviceError(Error):
    """A GPU runtime failure."""


class Interrupted(Error):
    """A solve stopped on request (a KeyboardInterrupt is raised as itself, not as this)."""
