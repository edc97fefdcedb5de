"""Execution backends: where the chunk and partition tasks of a run are carried out.

The core never talks to a cluster directly. It hands a small :class:`Executor` a function and the
items to apply it to, and gets the results back *in the order of the items*:

- :class:`~bayesgen.backends.local.LocalExecutor` (the default) runs them one after the other in this
  process, lazily, so only one chunk is in memory at a time;
- :class:`~bayesgen.backends.dask_backend.DaskExecutor` (``pip install 'bayesgen[dask]'``) submits
  them to a Dask cluster, either a ``LocalCluster`` of worker processes it starts or an existing
  scheduler. It is the only module of bayesgen that imports Dask.

Tasks are written so that the result does not depend on the backend or on the number of workers:
each task gets everything it needs (its seed, its chunk number) in its item, writes its own output
and returns only small metadata.

Examples
--------
>>> with get_executor("local") as executor:
...     list(executor.map(pow, [1, 2, 3], exp=2))
[1, 4, 9]
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

from bayesgen.errors import BayesgenError, DataValidationError

BACKENDS = ("local", "dask")


class Executor(ABC):
    """Runs a function over items and yields the results in order.

    Attributes
    ----------
    n_workers : int
        How many tasks can run at once.
    in_process : bool
        Whether tasks run in this process (objects are then passed as they are, not shipped).
    """

    n_workers: int = 1
    in_process: bool = True

    @abstractmethod
    def map(self, function: Callable, items: Iterable, **shared) -> Iterator:
        """Yield ``function(item, **shared)`` for each item, in the order of ``items``.

        ``shared`` values are the same for every item and are shipped to each worker once.
        """

    def map_partitions(self, function: Callable, partitions: Sequence[Mapping[str, Path]],
                       sep: str = ",") -> Iterator:
        """Yield ``function(frames)`` per partition, in order; ``frames`` maps table name to DataFrame.

        Each partition maps table names to one file each (``.parquet`` or ``.csv``). This default
        reads each partition with pandas inside its task, as :func:`bayesgen.tables.read_tables`
        reads whole tables (CSV as text, empty fields missing).
        """
        return self.map(functools.partial(_read_then_call, function), list(partitions), sep=sep)

    def close(self) -> None:
        """Release the backend's resources (nothing to release for the local backend)."""
        self.closed = True

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_partition_file(path: str | os.PathLike, table: str, sep: str = ",") -> pd.DataFrame:
    """Read one partition file of ``table`` with pandas (CSV columns as text, empty fields missing).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "part-0.csv"
    >>> _ = path.write_text("ID,CODE\\n1,01\\n2,\\n")
    >>> read_partition_file(path, "T").to_dict("list")
    {'ID': ['1', '2'], 'CODE': ['01', nan]}
    """
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataValidationError(table, None, f"file {path} is not valid UTF-8 (byte {exc.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        raise DataValidationError(table, None, f"cannot read {path}: {exc}") from None


def _read_then_call(function: Callable, partition: Mapping[str, Path], sep: str = ","):
    frames = {name: read_partition_file(path, name, sep) for name, path in partition.items()}
    return function(frames)


def get_executor(backend: str | Executor = "local", workers: int | None = None,
                 scheduler: str | None = None) -> Executor:
    """The executor for ``backend``: ``"local"``, ``"dask"``, or an :class:`Executor` given as is.

    Parameters
    ----------
    backend : {"local", "dask"} or Executor
    workers : int, optional
        With ``"dask"``: start a ``LocalCluster`` of this many worker processes, one thread each
        (default: one per core).
    scheduler : str, optional
        With ``"dask"``: the address of an existing scheduler (e.g. ``tcp://10.0.0.5:8786``) instead
        of a local cluster.

    Examples
    --------
    >>> type(get_executor("local")).__name__
    'LocalExecutor'
    """
    if isinstance(backend, Executor):
        if workers is not None or scheduler is not None:
            raise ValueError("workers and scheduler apply only when backend is a name, not an Executor")
        return backend
    if backend == "local":
        if workers not in (None, 1) or scheduler is not None:
            raise ValueError("workers and scheduler need backend='dask' (the local backend runs in this process)")
        from bayesgen.backends.local import LocalExecutor

        return LocalExecutor()
    if backend == "dask":
        if workers is not None and scheduler is not None:
            raise ValueError("give either workers (a new local cluster) or scheduler (an existing one), not both")
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        try:
            from bayesgen.backends.dask_backend import DaskExecutor
        except ImportError as exc:
            raise BayesgenError(f"the Dask backend needs dask and distributed ({exc}); "
                                f"install them with: pip install 'bayesgen[dask]'") from None
        return DaskExecutor(workers=workers, scheduler=scheduler)
    raise ValueError(f"backend must be one of {BACKENDS} or an Executor, got {backend!r}")


__all__ = ["BACKENDS", "Executor", "get_executor", "read_partition_file"]
