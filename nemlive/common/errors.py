"""The project's few exception types. Entry points turn them into one line and an exit code.

* NemLiveError: the base; ``str(exc)`` is the one line shown to the user.
  * ConfigError -> exit 2: bad flags or environment (missing key, bad port, unreadable file).
  * InputError -> exit 2: an input file that does not follow its contract.
  * OutputError -> exit 2: an output file that cannot be written (missing or read-only
    folder, a file where a folder should be, a full disk).
  * ApiError -> exit 1: the OpenElectricity API (or the simulator) refused or failed.
  * BrokerError -> exit 1: the MQTT broker could not be reached or refused us.
  * TableCheckError -> exit 1: an extracted table breaks a rule of consolidate.csv; nothing is
    written.
  * StoreError -> exit 1: the history store (SQLite or PostgreSQL) refused or failed;
    StoreUnavailable, its subclass, is a state that may pass (unreachable, read-only, full,
    locked): the recorder retries it.
"""


class NemLiveError(Exception):
    """Base class; ``str(exc)`` is the one line shown to the user. Never holds a secret."""

    exit_code = 1


class ConfigError(NemLiveError):
    exit_code = 2


class InputError(NemLiveError):
    exit_code = 2


class OutputError(NemLiveError):
    """A file the program writes cannot be written; the message names it and the flag that
    moves it."""

    exit_code = 2


class ApiError(NemLiveError):
    exit_code = 1


class BrokerError(NemLiveError):
    exit_code = 1


class TableCheckError(NemLiveError):
    """The table breaks a consolidate.csv rule (docs/contracts.md); nothing is written."""

    exit_code = 1


class StoreError(NemLiveError):
    exit_code = 1


class StoreUnavailable(StoreError):
    """The store cannot take or give data right now; retrying later may succeed.

    ``kind`` names the state for a caller that logs once per change of state:
    ``unreachable``, ``read-only``, ``full``, ``locked`` or ``denied``.
    """

    def __init__(self, message: str, kind: str = "unreachable") -> None:
        super().__init__(message)
        self.kind = kind
