"""Atomic file replacement: the one way the project rewrites a file that others read.

consolidate.csv, its meta file and data/facilities.csv (the extractor) and the publisher's
checkpoint are all written here: to a temporary file in the target's own folder, fsynced,
then renamed over the target. A reader never sees half a file, and a run that fails (or is
killed) while writing leaves the previous file as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path


def write_files_atomically(files: Sequence[tuple[Path, bytes]]) -> None:
    """Replace each ``(path, bytes)`` atomically, in order; raise OSError.

    All temporary files are written and fsynced before the first rename, so a failure while
    writing (disk full, permission) changes none of the targets. A target keeps its mode; a
    new one gets 0o666 minus the umask, as ``open()`` would give it. Missing folders are
    created. Order matters to readers: put consolidate.csv before its meta file, so that a
    reader that sees the new meta also sees the CSV it describes.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, _file_mode(path))
        for tmp, path in staged:
            os.replace(tmp, path)
        for directory in {path.parent for _, path in staged}:
            _fsync_dir(directory)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _file_mode(path: Path) -> int:
    """The target's mode; for a new file 0o666 minus the umask (mkstemp would give 0o600)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_dir(directory: Path) -> None:
    """Make the renames durable; some file systems cannot fsync a folder, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
