"""The local backend: tasks run one after the other in this process, streaming."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from bayesgen.backends import Executor


class LocalExecutor(Executor):
    """Run tasks in this process, lazily and in order: one task's data in memory at a time.

    Examples
    --------
    >>> list(LocalExecutor().map(lambda x, add: x + add, range(3), add=10))
    [10, 11, 12]
    """

    n_workers = 1
    in_process = True

    def map(self, function: Callable, items: Iterable, **shared) -> Iterator:
        for item in items:
            yield function(item, **shared)
