"""numba kernels of the ancestral sampler (the only module that imports numba).

Written by hand rather than using pgmpy's sampler because speed is the point: one compiled pass over
flattened CPT arrays, parallel over blocks of rows, with counter-based uniforms (SplitMix64 at
position ``(row_offset + row) * n_nodes + node``, see :mod:`bayesgen.rng`) so every row's values depend
only on the stream key and the row's global index: the output is identical for any chunking and any
number of threads.
"""

from __future__ import annotations

import numba
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
BINARY_SEARCH_FROM = 16  # states; below this a linear scan of the cumulative row is faster


@numba.njit(inline="always")
def _uniform(key, position):
    z = key + (position + np.uint64(1)) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def uniforms_kernel(key, positions):
    """Same values as :func:`bayesgen.rng.uniforms_at` (checked by a test)."""
    out = np.empty(positions.shape[0], dtype=np.float64)
    for i in range(positions.shape[0]):
        out[i] = _uniform(key, np.uint64(positions[i]))
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def sample_codes(out, external, card, parent_from_external, parent_row, parent_stride, parent_start,
                 cdf, cdf_start, key, row_offset, block):
    """Fill ``out`` (n_nodes x n_rows, int16) in node order by ancestral sampling.

    Parent ``q`` of node ``j`` (``parent_start[j] <= q < parent_start[j+1]``) is row ``parent_row[q]``
    of ``external`` (given, aligned on rows) if ``parent_from_external[q]`` else of ``out``; its code
    times ``parent_stride[q]`` adds to the configuration index. ``cdf[cdf_start[j] + config * card[j] + s]``
    is the cumulative probability of states ``<= s``. Within a block, the configuration index of every
    row is computed first (a loop the compiler vectorises), then one uniform per row selects the state.
    """
    n_nodes, n_rows = out.shape
    n_blocks = (n_rows + block - 1) // block
    for b in numba.prange(n_blocks):
        lo = b * block
        hi = min(n_rows, lo + block)
        width = hi - lo
        config = np.empty(width, dtype=np.int64)
        for j in range(n_nodes):
            c = card[j]
            for i in range(width):
                config[i] = cdf_start[j]
            for q in range(parent_start[j], parent_start[j + 1]):
                stride = parent_stride[q] * c
                row = parent_row[q]
                if parent_from_external[q]:
                    for i in range(width):
                        config[i] += np.int64(external[row, lo + i]) * stride
                else:
                    for i in range(width):
                        config[i] += np.int64(out[row, lo + i]) * stride
            first_position = np.uint64((row_offset + lo) * n_nodes + j)
            step = np.uint64(n_nodes)
            if c < BINARY_SEARCH_FROM:
                for i in range(width):
                    u = _uniform(key, first_position + np.uint64(i) * step)
                    base = config[i]
                    s = 0
                    for k in range(c - 1):  # branch-free: count cumulative bounds below u
                        s += u >= cdf[base + k]
                    out[j, lo + i] = s
            else:
                for i in range(width):
                    u = _uniform(key, first_position + np.uint64(i) * step)
                    base = config[i]
                    low, high = 0, c - 1
                    while low < high:
                        mid = (low + high) // 2
                        if u >= cdf[base + mid]:
                            low = mid + 1
                        else:
                            high = mid
                    out[j, lo + i] = low
