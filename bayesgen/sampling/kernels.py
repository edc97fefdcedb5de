"""numba kernels of the ancestral sampler and of decoding its codes (the events module has its own).

Written by hand rather than using pgmpy's sampler because speed is the point: one compiled pass over
flattened CPT arrays, parallel over blocks of rows, with counter-based random numbers (SplitMix64 at
position ``(row_offset + row) * n_nodes + node``, see :mod:`bayesgen.rng`) so every row's values depend
only on the stream key and the row's global index: the output is identical for any chunking and any
number of threads.

Each CPT row is drawn from with Walker's alias method on an exact integer representation of the row
(:func:`bayesgen.sampling.ancestral.alias_rows`): one 64-bit hash per draw, its high bits picking one
of ``2**bits`` equally likely columns and its low 32 bits deciding between the column's own state and
its alias. No search, whatever the number of states.

The decoding kernels give bit for bit the values of the NumPy formulas they replace
(``Column.decode`` with :meth:`bayesgen.schema.decode.TableDecoder.uniforms`, ``day_numbers``,
``days_to_dates``, ``index_rows``), in one pass instead of several."""

from __future__ import annotations

import numba
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
LOW32 = np.uint64(0xFFFFFFFF)
ALIAS_SCALE_BITS = 32  # each alias column holds 2**32 units of probability


@numba.njit(inline="always")
def _hash(key, position):
    """SplitMix64 output at ``position`` of stream ``key`` (:func:`bayesgen.rng.splitmix64`)."""
    z = key + (position + np.uint64(1)) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always")
def _uniform(key, position):
    return np.float64(_hash(key, position) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def uniforms_kernel(key, positions):
    """Same values as :func:`bayesgen.rng.uniforms_at` (checked by a test)."""
    out = np.empty(positions.shape[0], dtype=np.float64)
    for i in range(positions.shape[0]):
        out[i] = _uniform(key, np.uint64(positions[i]))
    return out


@numba.njit(cache=True)
def integer_weights(rows, bits):
    """Each row of ``rows`` (probabilities) as whole numbers summing to exactly ``2**(bits + 32)``.

    A weight is the probability times the total, rounded down; a positive probability gets at least
    1 and a zero probability exactly 0; what rounding left over (a few units) goes to the row's
    largest weight. The weight of a state differs from its exact share by at most a few units in
    ``2**(bits + 32)``.
    """
    n, c = rows.shape
    total = np.int64(1) << np.int64(bits + ALIAS_SCALE_BITS)
    out = np.zeros((n, c), dtype=np.int64)
    for r in range(n):
        s = 0.0
        for k in range(c):
            s += rows[r, k]
        given = np.int64(0)
        largest = 0
        for k in range(c):
            if rows[r, k] > 0.0:
                w = np.int64(np.floor(rows[r, k] / s * np.float64(total)))
                out[r, k] = max(w, np.int64(1))
                given += out[r, k]
            if out[r, k] > out[r, largest]:
                largest = k
        out[r, largest] += total - given
    return out


@numba.njit(cache=True)
def alias_tables(weights, bits):
    """Walker alias tables (Vose's construction, in exact integer arithmetic) of integer ``weights``.

    ``weights`` has one row per CPT row, each summing to ``2**(bits + 32)``. Returns, per row, ``2**bits``
    packed entries: the column's own-state threshold (low 32 bits) and its alias state (high bits).
    Drawing column ``k`` uniformly and a 32-bit uniform ``v``, the state is ``k`` if ``v < threshold``
    else the alias: state ``s`` then has probability exactly ``weights[s] / 2**(bits + 32)``. Columns
    past the last state and states of weight 0 have threshold 0 (never their own state); the alias of a
    column always has a positive weight, so a zero-probability state is never drawn.
    """
    n, c = weights.shape
    m = 1 << bits
    capacity = np.int64(1) << np.int64(ALIAS_SCALE_BITS)
    out = np.empty(n * m, dtype=np.uint64)
    w = np.zeros(m, dtype=np.int64)
    small = np.empty(m, dtype=np.int64)
    large = np.empty(m, dtype=np.int64)
    for r in range(n):
        w[:] = 0
        w[:c] = weights[r]
        n_small = 0
        n_large = 0
        for k in range(m):
            if w[k] < capacity:
                small[n_small] = k
                n_small += 1
            else:
                large[n_large] = k
                n_large += 1
        base = r * m
        while n_small > 0 and n_large > 0:
            n_small -= 1
            lo = small[n_small]
            n_large -= 1
            hi = large[n_large]
            out[base + lo] = (np.uint64(hi) << np.uint64(32)) | np.uint64(w[lo])
            w[hi] -= capacity - w[lo]
            if w[hi] < capacity:
                small[n_small] = hi
                n_small += 1
            else:
                large[n_large] = hi
                n_large += 1
        # whatever is left holds exactly one column's capacity (the sums are exact): its own state
        for t in range(n_large):
            k = large[t]
            out[base + k] = (np.uint64(k) << np.uint64(32)) | LOW32
        for t in range(n_small):  # unreachable with exact sums; kept safe (a positive state only)
            k = small[t]
            if w[k] <= 0:
                raise ValueError("alias table: weights do not sum to the table's total")
            out[base + k] = (np.uint64(k) << np.uint64(32)) | LOW32
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def sample_codes(out, external, bits, parent_from_external, parent_row, parent_stride, parent_start,
                 table, table_start, key, row_offset, block):
    """Fill ``out`` (n_nodes x n_rows, int16) in node order by ancestral sampling.

    Parent ``q`` of node ``j`` (``parent_start[j] <= q < parent_start[j+1]``) is row ``parent_row[q]``
    of ``external`` (given, aligned on rows) if ``parent_from_external[q]`` else of ``out``; its code
    times ``parent_stride[q]`` is added to the configuration index. Node ``j``'s alias table for
    configuration ``config`` is ``table[table_start[j] + config * 2**bits[j]:][:2**bits[j]]``. Within a
    block, the configuration of every row is computed first, then one 64-bit hash per row (both loops
    of arithmetic only, which the compiler vectorises), then each hash selects its row's state: its
    top ``bits[j]`` bits of the high half pick the column, its low 32 bits are compared with the
    column's threshold.
    """
    n_nodes, n_rows = out.shape
    n_blocks = (n_rows + block - 1) // block
    for b in numba.prange(n_blocks):
        lo = b * block
        hi = min(n_rows, lo + block)
        width = hi - lo
        config = np.empty(width, dtype=np.int64)
        hashes = np.empty(width, dtype=np.uint64)
        for j in range(n_nodes):
            columns = np.int64(1) << bits[j]
            start = table_start[j]
            for i in range(width):
                config[i] = start
            for q in range(parent_start[j], parent_start[j + 1]):
                stride = parent_stride[q] * columns
                codes = external[parent_row[q]] if parent_from_external[q] else out[parent_row[q]]
                for i in range(width):
                    config[i] += np.int64(codes[lo + i]) * stride
            first_position = np.uint64((row_offset + lo) * n_nodes + j)
            step = np.uint64(n_nodes)
            for i in range(width):  # the hashes first: a loop of arithmetic only, which vectorises
                hashes[i] = _hash(key, first_position + np.uint64(i) * step)
            shift = np.uint64(32 - bits[j])
            drawn = out[j]
            for i in range(width):
                h = hashes[i]
                column = (h >> np.uint64(32)) >> shift
                entry = table[config[i] + np.int64(column)]
                own = (h & LOW32) < (entry & LOW32)
                drawn[lo + i] = np.int16(np.int64(column) if own else np.int64(entry >> np.uint64(32)))


# -- decoding (bit for bit the values of the NumPy formulas they replace) ---------------------------


@numba.njit(cache=True, nogil=True)
def decode_binned(codes, rows, key, row_offset, width, index, starts, widths, missing_code, scale, missing_value,
                  values, missing):
    """Whole numbers drawn uniformly within each code's bin: ``(starts[c] + floor(u * widths[c])) * scale``.

    ``u`` is the uniform of :meth:`bayesgen.schema.decode.TableDecoder.uniforms` for row ``i``: position
    ``(row_offset + r) * width + index`` of stream ``key``, where ``r`` is ``rows[i]`` (``i`` if ``rows``
    is empty). Rows whose code is ``missing_code`` get ``missing_value`` and ``missing[i] = True``. The
    same values as ``Column.decode`` given those uniforms, in one pass (serial: about 5 ms per million
    rows; with two threads it gained a few milliseconds on an idle machine and lost more on a busy one).
    Returns False (and the output is to be ignored) if a code is not in ``0 .. len(starts) - 1``.
    """
    n_codes = starts.shape[0]
    has_rows = rows.shape[0] > 0
    for i in range(codes.shape[0]):
        c = np.int64(codes[i])
        if c < 0 or c >= n_codes:
            return False
        if c == missing_code:
            values[i] = missing_value
            missing[i] = True
        else:
            r = rows[i] if has_rows else i
            position = (np.uint64(row_offset) + np.uint64(r)) * np.uint64(width) + np.uint64(index)
            whole = np.floor(_uniform(key, position) * widths[c]) + starts[c]
            values[i] = np.int64(whole) * scale
            missing[i] = False
    return True


@numba.njit(cache=True, nogil=True)
def lookup(table, codes, out, shift):
    """``out[i] = table[codes[i] + shift]``; False (output to be ignored) if that is not an index of ``table``.

    Serial and branch-free (a few milliseconds per million rows: not worth the threads' start-up, and
    slower with threads when the cores are busy).
    """
    last = np.uint64(table.shape[0] - 1)
    bad = False
    for i in range(codes.shape[0]):
        c = np.uint64(np.int64(codes[i]) + shift)  # below 0 wraps to a large number
        bad |= c > last
        out[i] = table[min(c, last)]
    return not bad


NAT = np.iinfo(np.int64).min  # the int64 behind NaT


@numba.njit(cache=True, nogil=True)
def seconds_to_days(seconds, out):
    """Day numbers (floored, as float; NaN for NaT) of ``datetime64[s]`` values given as int64 (serial, as
    :func:`lookup`)."""
    for i in range(seconds.shape[0]):
        s = seconds[i]
        out[i] = np.nan if s == NAT else np.float64(s // 86400)


@numba.njit(cache=True, nogil=True)
def days_to_seconds(days, out):
    """``datetime64[s]`` values (as int64) of day numbers: ``floor(day) * 86400``, NaT for NaN (serial)."""
    for i in range(days.shape[0]):
        d = days[i]
        out[i] = NAT if np.isnan(d) else np.int64(np.floor(d)) * 86400


# -- moving rows ------------------------------------------------------------------------------------
@numba.njit(parallel=True, cache=True, nogil=True)
def permute_columns(codes, order):
    """``codes[:] = codes[:, order]`` in place for a permutation ``order``, writing only the columns that move."""
    n = order.shape[0]
    n_moving = 0
    for i in range(n):
        if order[i] != i:
            n_moving += 1
    moving = np.empty(n_moving, dtype=np.int64)
    k = 0
    for i in range(n):
        if order[i] != i:
            moving[k] = i
            k += 1
    for j in numba.prange(codes.shape[0]):
        row = codes[j]
        values = np.empty(n_moving, dtype=codes.dtype)
        for t in range(n_moving):
            values[t] = row[order[moving[t]]]
        for t in range(n_moving):
            row[moving[t]] = values[t]


@numba.njit(cache=True, nogil=True)
def first_rows(parent, out):
    """``out[p]``: the first row of each run of equal values ``p`` in ``parent`` (the last run's, if
    ``p`` has several), -1 where none; as ``out[parent[starts]] = starts`` (``starts``: where a run begins)."""
    out[:] = -1
    for i in range(parent.shape[0]):
        if i == 0 or parent[i] != parent[i - 1]:
            if parent[i] < 0 or parent[i] >= out.shape[0]:
                raise IndexError("parent row out of range")
            out[parent[i]] = i
