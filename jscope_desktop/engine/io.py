"""Files the user names: reading them with one-sentence errors, and the one way every output
is written (atomically: a temporary file in the same folder, fsync, then a rename, so a crash or
a full disk mid-write never truncates the file that was there)."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import JScopeError

# The most a text file the user names (prompts, batch items, series values) may hold: far above
# any real one, and a bound on what a wrong file (a disk image, /dev/zero) costs before it is
# refused.
MAX_TEXT_BYTES = 256 * 2**20
_CSV_FIELD_MAX = 2**31 - 1  # the csv module's limit is a C long (32 bits on Windows)


def user_path(path: str | Path) -> Path:
    """``path`` as the user meant it: ``~`` expanded (the same way for checks and writes)."""
    return Path(os.path.expanduser(str(path)))


def read_user_text(path: str | Path, what: str = "file", encoding: str = "utf-8",
                   whole: bool = False) -> str:
    r"""The whole text of ``path``.

    Newlines are read as :func:`open` reads them in text mode (``\r\n`` and ``\r`` become
    ``\n``).

    Args:
        path: the file (``~`` is expanded).
        what: what the file is, for the error sentence (e.g. ``"prompts file"``).
        encoding: the text encoding.
        whole: read a file this program wrote itself (such as a batch's output being resumed)
            whatever its size.

    Returns:
        The text.

    Raises:
        JScopeError: one sentence naming ``what`` for a missing, unreadable or undecodable
            file, or one over :data:`MAX_TEXT_BYTES` unless ``whole`` (never read past it, so a
            device or an endless pipe is refused too).
    """
    p = user_path(path)
    try:
        with p.open("rb") as f:
            data = f.read() if whole else f.read(MAX_TEXT_BYTES + 1)
        if not whole and len(data) > MAX_TEXT_BYTES:
            raise JScopeError(f"The {what} {p} holds more than {MAX_TEXT_BYTES / 2**20:,.0f} MB; "
                              "split it into smaller files.")
        return io.TextIOWrapper(io.BytesIO(data), encoding=encoding).read()
    except FileNotFoundError:
        raise JScopeError(f"The {what} {p} does not exist.") from None
    except IsADirectoryError:
        raise JScopeError(f"The {what} {p} is a folder, not a file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise JScopeError(f"Could not read the {what} {p}: {reason}.") from None


def csv_rows(text: str, what: str, path: str | Path) -> list[list[str]]:
    """The rows of CSV ``text`` read from the ``what`` at ``path``. A field may be as long as the
    text itself (the csv module's own limit, 131,072 characters, is not one of ours: a long
    prompt is a real prompt); malformed CSV is one sentence."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(_CSV_FIELD_MAX, max(old, len(text) + 1)))
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise JScopeError(f"The {what} {user_path(path)} is not valid CSV ({exc}).") from None
    finally:
        csv.field_size_limit(old)


def read_user_json(path: str | Path, what: str = "file", shape: str = "JSON"):
    """The parsed JSON of ``path``, or a one-sentence :class:`JScopeError` for a file that is
    missing, unreadable, not JSON, or nested too deeply to parse (``shape`` says what it must be)."""
    p = user_path(path)
    raw = read_user_text(p, what)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JScopeError(f"The {what} {p} is not valid JSON ({exc.msg}, line {exc.lineno}); "
                          f"it must be {shape}.") from None
    except (RecursionError, ValueError):
        raise JScopeError(f"The {what} {p} is nested too deeply to read; it must be {shape}.") from None


def could_not_write(path: str | Path, exc: BaseException | None = None) -> JScopeError:
    """The one sentence for a failed write (to raise): names the file and, if known, why."""
    reason = (getattr(exc, "strerror", None) or str(exc)) if exc is not None else ""
    reason = reason.rstrip(".")
    return JScopeError(f"Could not write {path}: {reason}." if reason else f"Could not write {path}.")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer to fill; on success it is synced to
    disk and renamed over ``path`` in one step. On any error the temporary file is removed, the
    old ``path`` is left as it was, and a :class:`JScopeError` (for an ``OSError``) is raised."""
    target = user_path(path)
    if target.is_dir():
        raise JScopeError(f"Cannot write {target}: it is a folder.")
    try:
        # short, hidden, and the real suffix last (for writers that choose a format by it)
        fd, tmp_name = tempfile.mkstemp(prefix=".jscope-", suffix=target.suffix[:16],
                                        dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise could_not_write(target, exc) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or (tmp.stat().st_size == 0 and not _may_be_empty(target)):
            raise OSError("the writer produced nothing")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _keep_mode(target, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise could_not_write(target, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _may_be_empty(target: Path) -> bool:
    return target.suffix.lower() in (".txt", ".csv", ".jsonl")


def _keep_mode(target: Path, tmp: Path) -> None:
    """New files get the usual permissions (mkstemp makes them private); replaced ones keep
    theirs."""
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_UMASK
        os.chmod(tmp, mode)
    except OSError:
        pass


def _read_umask() -> int:
    mask = os.umask(0)  # read once, at import: setting it later would race with other threads
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path written."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return user_path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path written."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return user_path(path)


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented UTF-8 JSON (NaN written as null) to ``path`` atomically."""
    from .errors import finite_or_none

    return write_text(path, json.dumps(finite_or_none(obj), indent=1, ensure_ascii=False) + "\n")


def check_writable(path: str | Path | None) -> None:
    """Fail before slow work when ``path`` cannot be written: it is a folder, or its folder is
    missing (``None`` and ``-``, standard output, always pass)."""
    if path is None or str(path) == "-":
        return
    p = user_path(path)
    if p.is_dir():
        raise JScopeError(f"Cannot write {p}: it is a folder.")
    parent = p.resolve().parent
    if not parent.is_dir():
        raise JScopeError(f"Cannot write {p}: the folder {parent} does not exist.")


def check_distinct(outputs: Iterable[str | Path | None], inputs: Iterable[str | Path | None] = ()
                   ) -> None:
    """Refuse, before any work, an output that would land on an input of the same command or
    on another of its outputs; the sentence names both paths."""
    seen: dict[Path, tuple[str, str]] = {}
    for role, items in (("input", inputs), ("output", outputs)):
        for item in items:
            if item is None or str(item) == "-":
                continue
            key = user_path(item).resolve()
            if key in seen:
                first_role, first = seen[key]
                what = "is also an input" if first_role == "input" else "is written twice"
                raise JScopeError(f"The output {item} {what} ({first}); choose another file name.")
            seen[key] = (role, str(item))
