"""Atomic file replacement: the one way the project rewrites a file that others read.

consolidate.csv, its meta file and data/facilities.csv (the extractor) and the publisher's
checkpoint are all written here: to a temporary file in the target's own folder, fsynced,
then renamed over the target. A reader never sees half a file, and a run that fails (or is
killed) while writing leaves the previous file as it was.
"""

from __future__ import annotations

import os
import secrets
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
            tmp = str(path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp")
            # O_EXCL: never another file of that name; mode 0o666 is narrowed by the umask
            # as open() does, without reading (and so changing) the process-wide umask.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            mode = _existing_mode(path)
            if mode is not None:
                os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
        for directory in {path.parent for _, path in staged}:
            _fsync_dir(directory)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _existing_mode(path: Path) -> int | None:
    """The target's permission bits, or None when there is no target yet."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return None


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
