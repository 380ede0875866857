"""Writing output files atomically: a temporary file in the same folder, then a rename, so a
failure never leaves a partial file behind."""

from __future__ import annotations

import os
import tempfile

from calc.errors import UsageError


def write_atomic(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".calc-", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", expected="a writable folder") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {path}: {exc.strerror}", expected="a writable path") from None
        raise
