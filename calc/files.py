"""Writing a command's output file (`-o FILE`) the way `cp` and compilers (`gcc -o`) do, atomically.

- FILE must not be one of the command's inputs (the same file by any name: the path itself, a
  symlink, a hard link): `calc report s.yaml -o s.yaml` is refused instead of replacing the spec.
- A symlink is written through: its target gets the text, the link stays a link.
- An existing file keeps its permission bits (and, where the user may set them, its owner and
  group); one the user may not write is refused ("cannot write FILE: permission denied"), as
  `cp` refuses it.  (Root may write any file, as with `cp`.)  A new file gets 0666 & ~umask.
- A regular file is written atomically: the text goes to `.FILE.calc-XXXXXXXX.tmp` next to the
  target, is flushed to disk, and is renamed over the target, so a reader sees the old file or
  the new one, never a part.  The rename replaces the file: other hard links to it keep the old
  text.  A failure or SIGINT/SIGTERM (see calc.cli) removes the temporary file; SIGKILL cannot
  be caught and leaves it, named after its target so that it is easy to find and remove.
- Anything else that can be written (/dev/null, /dev/stdout, a FIFO) is written in place.

FLOPCALC_TEST_PAUSE_BEFORE_RENAME=PATH is a hook for the signal tests only
(tests/test_cli_files.py): with it set, the writer creates PATH (holding the temporary file's
name) once the temporary file is complete and then waits up to 60 s before the rename, so a test
can send a signal at exactly that point.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Sequence

from calc.errors import UsageError

PAUSE_HOOK = "FLOPCALC_TEST_PAUSE_BEFORE_RENAME"


def emit(text: str, output: str | None, inputs: Sequence[str] = ()) -> None:
    """`text` to stdout, or to the file `output` (which must not be one of `inputs`)."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, text, inputs)


def check_output(path: str, inputs: Sequence[str] = ()) -> None:
    """Refuse, before any work is done, an output path that could not be written: an input of
    the command, a folder, a missing folder, a file the user may not write."""
    _plan(path, inputs)


def write_output(path: str, text: str, inputs: Sequence[str] = ()) -> None:
    """Write `text` (UTF-8) to `path` as described in the module docstring."""
    target, existing = _plan(path, inputs)
    data = text.encode("utf-8")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        try:  # a device or a FIFO: nothing to rename over
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise _cannot(path, exc) from None
        return
    _replace(path, target, existing, data)


def _plan(path: str, inputs: Sequence[str]) -> tuple[str, os.stat_result | None]:
    """The file that writing `path` lands on (symlinks resolved) and its status (None if new)."""
    try:
        existing: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        existing = None
    except OSError as exc:  # a symlink loop, a path through a file, no access to a folder
        raise _cannot(path, exc) from None
    for given in inputs:
        if existing is not None and _same_file(path, given):
            alias = "" if os.path.normpath(given) == os.path.normpath(path) else f"{given}, "
            raise UsageError(
                f"cannot write {path}: it is {alias}an input of this command",
                expected="an output file other than the inputs",
            )
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise UsageError(f"cannot write {path}: is a folder", expected="a file name")
    if path.endswith(("/", os.sep)):
        raise UsageError(f"cannot write {path}: names a folder", expected="a file name")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        return path, existing
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if existing is not None and not os.access(target, os.W_OK):
        raise UsageError(f"cannot write {path}: permission denied", expected="a file you may write")
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: no such folder", expected="a path in an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"cannot write {path}: its folder is not writable (the text is written to a temporary "
            "file there, then renamed)", expected="a writable folder",
        )
    return target, existing


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # b does not exist (the command will say so)
        return False


def _replace(path: str, target: str, existing: os.stat_result | None, data: bytes) -> None:
    folder, name = os.path.split(target)
    # The kernel applies the umask to 0o666 for a new file; an existing file's bits are copied.
    mode = 0o666 if existing is None else 0o600
    tmp = ""
    try:
        while True:
            tmp = os.path.join(folder, f".{name[:200]}.calc-{os.urandom(4).hex()}.tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
                break
            except FileExistsError:
                continue
        with os.fdopen(fd, "wb") as fh:
            if existing is not None:
                _keep_owner_and_mode(fh.fileno(), existing)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if os.environ.get(PAUSE_HOOK):
            _pause(os.environ[PAUSE_HOOK], tmp)
        os.replace(tmp, target)
    except BaseException as exc:  # an interrupt too: the temporary file never outlives the run
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise _cannot(path, exc) from None
        raise
    _sync_folder(folder)


def _keep_owner_and_mode(fd: int, existing: os.stat_result) -> None:
    """Give the new file the replaced one's permission bits (setuid/setgid dropped) and, where
    the user may, its owner and group."""
    if not hasattr(os, "fchown"):  # not a POSIX system: the new file keeps the default bits
        return
    if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
        for uid in (existing.st_uid, -1):
            try:
                os.fchown(fd, uid, existing.st_gid)
                break
            except OSError:
                continue
    os.fchmod(fd, stat.S_IMODE(existing.st_mode) & 0o777)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pause(marker: str, tmp: str) -> None:
    """The test hook (see the module docstring)."""
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(tmp)
    time.sleep(60)


def _cannot(path: str, exc: OSError) -> UsageError:
    reason = (exc.strerror or str(exc)).lower()
    return UsageError(f"cannot write {path}: {reason}", expected="a writable path")
