"""The Dask backend (``pip install 'bayesgen[dask]'``): tasks run on the workers of a Dask cluster.

This is the only module of bayesgen that imports ``dask`` and ``distributed``. A
:class:`DaskExecutor` either starts a ``LocalCluster`` of worker processes with one thread each, or
connects to an existing scheduler. Values shared by every task (the model file's text, say) are
scattered to every worker once; each task writes its own output and returns small metadata, so no
large table ever travels back to this process.

Partitioned inputs are read with ``dask.dataframe`` (one Dask partition per file) on the workers;
the per-partition function runs where its partition was read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import dask
import dask.dataframe as dd
from distributed import Client, LocalCluster

from bayesgen.backends import Executor
from bayesgen.errors import BayesgenError, DataValidationError


class _Failure:
    """A bayesgen error raised in a task, carried back in a form that survives pickling."""

    def __init__(self, exc: BayesgenError):
        self.kind = type(exc)
        self.message = str(exc)
        self.fields = ((exc.table, exc.column, exc.problem, exc.value, exc.n_rows)
                       if isinstance(exc, DataValidationError) else None)

    def reraise(self):
        if self.fields is not None:
            raise DataValidationError(*self.fields)
        try:
            error = self.kind(self.message)
        except TypeError:  # pragma: no cover - an error class with another signature
            error = BayesgenError(self.message)
        raise error


def _guarded(function: Callable, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except BayesgenError as exc:  # some carry fields that plain exception pickling would lose
        return _Failure(exc)


def _call_with_frames(function: Callable, frames: dict):
    return _guarded(function, frames)


class DaskExecutor(Executor):
    """Run tasks on a Dask cluster; results come back in the order of the items.

    Parameters
    ----------
    workers : int, optional
        Start a ``LocalCluster`` with this many worker processes, one thread each (default: one
        per core). Ignored when ``scheduler`` or ``client`` is given.
    scheduler : str, optional
        Address of an existing scheduler to connect to (``tcp://host:8786``).
    client : distributed.Client, optional
        An existing client to use as it is; it is not closed by :meth:`close`.

    Examples
    --------
    >>> with DaskExecutor(workers=1) as executor:  # doctest: +SKIP
    ...     list(executor.map(pow, [1, 2, 3], exp=2))
    [1, 4, 9]
    """

    in_process = False

    def __init__(self, workers: int | None = None, scheduler: str | None = None, client: Client | None = None):
        self._cluster = None
        self._owns_client = client is None
        if client is not None:
            self.client = client
        elif scheduler is not None:
            self.client = Client(scheduler)
        else:
            n_workers = workers if workers is not None else (os.cpu_count() or 1)
            # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also pins glibc's mmap
            # threshold: every large array of every chunk is then mapped and page-faulted afresh
            # (about 0.5 s of system time per chunk of 250,000 patients). Workers started here keep
            # glibc's adaptive default, as in the local backend; a variable set by the user still wins.
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                self._cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                             dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self._cluster)
        if self._cluster is not None:
            self.client.wait_for_workers(len(self._cluster.workers))
        info = self.client.scheduler_info()
        self.n_workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def map(self, function: Callable, items: Iterable, **shared) -> Iterator:
        items = list(items)
        if not items:
            return
        scattered = {name: self.client.scatter([value], broadcast=True)[0] for name, value in shared.items()}
        futures = self.client.map(_guarded, [function] * len(items), items, pure=False, **scattered)
        yield from self._in_order(futures)

    def map_partitions(self, function: Callable, partitions: Sequence[Mapping[str, Path]],
                       sep: str = ",") -> Iterator:
        partitions = list(partitions)
        if not partitions:
            return
        names = list(partitions[0])
        pieces = {}
        # keep text as object columns, exactly as pandas reads them in the local backend
        with dask.config.set({"dataframe.convert-string": False}):
            for name in names:
                files = [str(partition[name]) for partition in partitions]
                frame = _read(files, sep)
                delayed = frame.to_delayed()
                if len(delayed) != len(files):
                    raise BayesgenError(f"{name}: dask read {len(files)} files as {len(delayed)} partitions; "
                                        f"expected one partition per file")
                pieces[name] = delayed
        tasks = [dask.delayed(_call_with_frames, pure=False)(function, {name: pieces[name][i] for name in names})
                 for i in range(len(partitions))]
        futures = self.client.compute(tasks)
        yield from self._in_order(futures)

    def _in_order(self, futures) -> Iterator:
        try:
            for future in futures:
                result = future.result()
                if isinstance(result, _Failure):
                    result.reraise()
                yield result
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                self.client.cancel(pending)

    def peak_memory(self) -> dict[str, int]:
        """Peak resident memory (bytes) of each worker process so far, from ``getrusage``.

        Examples
        --------
        >>> with DaskExecutor(workers=1) as executor:  # doctest: +SKIP
        ...     len(executor.peak_memory())
        1
        """
        return self.client.run(_peak_rss)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _peak_rss() -> int:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _read(files: list[str], sep: str):
    suffixes = {Path(f).suffix for f in files}
    if suffixes == {".parquet"}:
        return dd.read_parquet(files, split_row_groups=False)
    if suffixes == {".csv"}:
        return dd.read_csv(files, blocksize=None, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                           encoding="utf-8")
    raise BayesgenError(f"partition files must all be .parquet or all .csv, got {sorted(suffixes)}")
