"""Atomic file writing and resolution of the files that ship with bayesgen."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent / "resources"


def current_umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set back at once)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    A failure leaves no partial file behind (the temporary file is removed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(0o666 & ~current_umask())  # mkstemp makes it private (0600): a normal file's mode
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_with(path: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def resolve_resource(path: str | os.PathLike, kind: str) -> Path:
    """Find a schema or structure file: the path as given, else the copy shipped with bayesgen.

    ``kind`` is ``"schemas"`` or ``"structures"``. ``"schemas/simulacrum_v2.yaml"``,
    ``"simulacrum_v2.yaml"`` and ``"simulacrum_v2"`` all find the shipped Simulacrum schema.
    """
    given = Path(path)
    if given.exists():
        return given
    name = given.name if given.suffix else f"{given.name}.yaml"
    shipped = RESOURCES / kind / name
    if shipped.exists():
        return shipped
    return given
