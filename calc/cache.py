"""The report cache: `calc report` of a spec it has seen prints its stored output instead of
loading, validating and evaluating the spec again (as compilers and linters keep theirs).

What is stored: the exact text a successful `calc report` wrote (the rendered report), under a
key that is the BLAKE2b-256 hash of everything the text depends on:

- the spec's bytes (a file's, a library spec's, or what stdin gave), and the name it is read
  under (errors and some formats name it);
- the command's options that change the text: --convention, --dtype, --format, --units,
  --depth, --top, --input, --batch, --fold-bn;
- calc's version and its code (path, size and modification time of every module of the
  package, so an edit or an upgrade is a new key), the Python version, and the installed PyYAML,
  pydantic and pydantic-core (their package folders' `__init__.py` size and time).

A hit therefore imports neither pydantic nor PyYAML nor the records: it reads one file, checks
it and writes the text.  Safety:

- An entry is `MAGIC` + the key + the text's length and BLAKE2b-256 digest on one header
  line, then the text (UTF-8).  Anything else (a truncated, corrupt or foreign file, another key, a wrong
  length or digest) is ignored as a miss and rebuilt; reading the cache never fails a command.
  No pickle: the text is the text.
- An entry is written to a temporary file in the cache folder and renamed over its name
  (`os.replace`), so a reader sees a whole entry or none, however many writers race.
- Only a command that succeeded stores its text: a spec with errors is never cached.
- `--no-cache`, or FLOPCALC_NO_CACHE set to anything but '' or '0', turns the cache off
  (neither read nor written).
- The folder holds at most MAX_BYTES (FLOPCALC_CACHE_MAX_BYTES overrides it): after a store,
  the least recently used entries (a hit touches its entry) are removed until it fits.

Where: FLOPCALC_CACHE_DIR if set, else $XDG_CACHE_HOME/flopcalc (when XDG_CACHE_HOME is an
absolute path), else the platform's user cache folder: ~/.cache/flopcalc on Linux,
~/Library/Caches/flopcalc on macOS, %LOCALAPPDATA%\\flopcalc\\Cache on Windows.  Deleting the
folder clears the cache.
"""

from __future__ import annotations

import os
import stat
import sys
from calc import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

MAGIC = b"flopcalc-report-cache 1"
MAX_BYTES = 64 * 1024 * 1024
"""Default bound on the cache folder's total size."""
MAX_SPEC_BYTES = 4 * 1024 * 1024
"""Specs larger than this are not cached (calc.yamlload.MAX_BYTES refuses them anyway)."""
SUFFIX = ".entry"
STALE_TMP_NS = 3600 * 10**9
"""A temporary file older than this (an hour) was left by a writer that died: evicted."""
NO_CACHE_ENV = "FLOPCALC_NO_CACHE"
DIR_ENV = "FLOPCALC_CACHE_DIR"
SIZE_ENV = "FLOPCALC_CACHE_MAX_BYTES"
DEPENDENCIES = ("yaml", "pydantic", "pydantic_core")


def disabled() -> bool:
    """Whether FLOPCALC_NO_CACHE turns the cache off."""
    return os.environ.get(NO_CACHE_ENV, "") not in ("", "0")


def directory() -> str:
    """The cache folder (not created here)."""
    explicit = os.environ.get(DIR_ENV)
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "flopcalc")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        return os.path.join(base, "flopcalc", "Cache")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/flopcalc")
    return os.path.expanduser("~/.cache/flopcalc")


def max_bytes() -> int:
    text = os.environ.get(SIZE_ENV, "")
    try:
        value = int(text)
    except ValueError:
        return MAX_BYTES
    return value if value >= 0 else MAX_BYTES


_CODE: str | None = None


def code_fingerprint() -> str:
    """calc's version and code (every module's path, size and mtime) and the installed
    dependencies', as one text: what makes the same spec and options print something else."""
    global _CODE
    if _CODE is None:
        package = os.path.dirname(os.path.abspath(__file__))
        parts = [f"calc {__version__}", sys.version, sys.implementation.name, sys.platform]
        for folder, dirs, files in os.walk(package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(folder, name))
                    parts.append(f"{os.path.relpath(os.path.join(folder, name), package)} {st.st_size} {st.st_mtime_ns}")
        for dep in DEPENDENCIES:
            parts.append(f"{dep} {_package_stamp(dep)}")
        _CODE = "\n".join(parts)
    return _CODE


def _package_stamp(name: str) -> str:
    """Where the package `name` would be imported from, and its __init__.py's size and time,
    found without importing it (the first sys.path entry that has it, as the importer looks)."""
    for entry in sys.path:
        init = os.path.join(entry or os.curdir, name, "__init__.py")
        try:
            st = os.stat(init)
        except OSError:
            continue
        return f"{os.path.abspath(init)} {st.st_size} {st.st_mtime_ns}"
    return "absent"


def _blake2b() -> Any:
    """hashlib.blake2b, taken from the built-in module it lives in (`import hashlib` also loads
    OpenSSL: 2-3 ms of a cache hit's 25)."""
    try:
        from _blake2 import blake2b
    except ImportError:  # an interpreter without it: hashlib's
        from hashlib import blake2b
    return blake2b


def digest(data: bytes) -> str:
    """The hex BLAKE2b-256 of `data`."""
    return _blake2b()(data, digest_size=32).hexdigest()


def key(spec_bytes: bytes, source: str, options: Sequence[tuple[str, object]]) -> str:
    """The hex BLAKE2b-256 that names the entry of `spec_bytes` read as `source` with
    `options` (name-value pairs, in any order)."""
    h = _blake2b()(digest_size=32)
    for part in (MAGIC, code_fingerprint().encode(), source.encode("utf-8", "surrogateescape"),
                 repr(sorted(options)).encode("utf-8", "surrogateescape"), digest(spec_bytes).encode()):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def read_spec_file(path: str) -> bytes | None:
    """A regular file's bytes, or None when it is not one, cannot be read or is too large for
    the cache (the command then reads it as always, and reports any problem)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SPEC_BYTES:
            return None
        with open(path, "rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except (OSError, ValueError):
        return None
    return data if len(data) <= MAX_SPEC_BYTES else None


def _entry_path(hex_key: str) -> str:
    return os.path.join(directory(), hex_key + SUFFIX)


def load(hex_key: str) -> str | None:
    """The text stored under `hex_key`, or None (no entry, or one that does not check out)."""
    path = _entry_path(hex_key)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes() + 1)
    except (OSError, ValueError):
        return None
    header, newline, body = data.partition(b"\n")
    fields = header.split(b" ")
    if not newline or len(fields) != 5 or b" ".join(fields[:2]) != MAGIC or fields[2] != hex_key.encode():
        return None
    size, stated = fields[3], fields[4]
    if not size.isdigit() or int(size) != len(body) or digest(body).encode() != stated:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        os.utime(path)  # recently used: evicted last
    except OSError:
        pass
    return text


def store(hex_key: str, text: str) -> None:
    """Store `text` under `hex_key` (atomically), then keep the folder within its bound.
    Never fails the command: a cache that cannot be written is left alone."""
    body = text.encode("utf-8")
    bound = max_bytes()
    data = b"%s %s %d %s\n" % (MAGIC, hex_key.encode(), len(body), digest(body).encode()) + body
    if len(data) > bound // 2:
        return
    folder = directory()
    tmp = os.path.join(folder, f".{hex_key}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            with open(fd, "wb", closefd=True) as fh:
                fh.write(data)
            os.replace(tmp, _entry_path(hex_key))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return
    evict(folder, bound)


def evict(folder: str, bound: int) -> None:
    """Remove the least recently used entries (and temporary files left by a writer that died)
    until the folder's entries take at most `bound` bytes."""
    import time

    now = time.time_ns()
    entries = []
    total = 0
    try:
        with os.scandir(folder) as it:
            for e in it:
                name = e.name
                if not (name.endswith(SUFFIX) or name.endswith(".tmp")):
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if name.endswith(".tmp") and now - st.st_mtime_ns < STALE_TMP_NS:
                    continue  # another writer's, being written
                entries.append((st.st_mtime_ns, name, st.st_size))
                total += st.st_size
    except OSError:
        return
    if total <= bound:
        return
    for _, name, size in sorted(entries):
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            continue
        total -= size
        if total <= bound:
            break


def clear() -> int:
    """Remove every entry of the cache folder; the number removed."""
    folder = directory()
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        if name.endswith(SUFFIX) or name.endswith(".tmp"):
            try:
                os.unlink(os.path.join(folder, name))
                removed += 1
            except OSError:
                pass
    return removed
