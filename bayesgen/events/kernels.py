"""numba kernels of the time-to-event module: exact statistics for fitting, and the event sampler.

Written by hand because the piecewise-constant competing-risks walk (intervals, history states,
several event types at risk at once) is a per-unit loop that no vectorised library call expresses,
and speed matters: a million patients' events are sampled in well under a second.

Randomness uses the same counter-based SplitMix64 uniforms as the BN sampler
(:mod:`bayesgen.sampling.kernels`): unit ``i`` of a run draws its uniforms at positions
``(row_offset + i) * stride + d``, so a unit's events depend only on the stream key and the unit's
global index, never on chunking or threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from bayesgen.sampling.kernels import _uniform

TERMINAL = 0


@numba.njit(inline="always")
def _history(e, counts, max_count, after_flat, after_start):
    n_after = after_start[e + 1] - after_start[e]
    occurrence = min(counts[e], max_count[e] - 1)
    state = occurrence * (1 << n_after)
    for k in range(n_after):
        if counts[after_flat[after_start[e] + k]] > 0:
            state += 1 << k
    return state


@numba.njit(inline="always")
def _flat(e, cell, history, interval, rate_start, history_card, n_intervals):
    return rate_start[e] + (cell * history_card[e] + history) * n_intervals + interval


@numba.njit(cache=True)
def _add_exposure(exposure, t0, t1, base, edges, resolution):
    """Add the time in [t0, t1) to the per-interval cells starting at flat index ``base``."""
    n_intervals = edges.shape[0] - 1
    for j in range(n_intervals):
        lo = max(t0, edges[j])
        hi = min(t1, edges[j + 1])
        if hi > lo:
            # floor per piece: one unit adds at most `resolution` to an interval's cells
            exposure[base + j] += np.int64(math.floor((hi - lo) * resolution / (edges[j + 1] - edges[j])))


@numba.njit(cache=True)
def event_statistics(entry, end, cells, unit_start, event_type, event_time, kinds, max_count, history_card,
                     after_flat, after_start, rate_start, edges, resolution, events_out, exposure_out):
    """Exact event counts and exposure units of every (event type, cell, history, interval).

    Units are walked from ``entry`` to ``end``; unit ``i``'s events are
    ``event_type/event_time[unit_start[i]:unit_start[i+1]]`` in time order (a terminal event, if
    any, last, at ``end``). While an event type is at risk its exposure accrues in the unit's current
    history state; each event is counted in the state it happened in.
    """
    n_units = entry.shape[0]
    n_events = kinds.shape[0]
    n_intervals = edges.shape[0] - 1
    counts = np.zeros(n_events, dtype=np.int64)
    for i in range(n_units):
        counts[:] = 0
        t = entry[i]
        for q in range(unit_start[i], unit_start[i + 1] + 1):
            last = q == unit_start[i + 1]
            stop = end[i] if last else event_time[q]
            if stop > t:
                for e in range(n_events):
                    if counts[e] < max_count[e]:
                        h = _history(e, counts, max_count, after_flat, after_start)
                        base = _flat(e, cells[e, i], h, 0, rate_start, history_card, n_intervals)
                        _add_exposure(exposure_out, t, stop, base, edges, resolution)
                t = stop
            if last:
                break
            e = event_type[q]
            if counts[e] >= max_count[e]:
                continue  # more occurrences than declared: bounded away
            j = 0
            while j < n_intervals - 1 and event_time[q] >= edges[j + 1]:
                j += 1
            h = _history(e, counts, max_count, after_flat, after_start)
            events_out[_flat(e, cells[e, i], h, j, rate_start, history_card, n_intervals)] += 1
            counts[e] += 1


@numba.njit(parallel=True, cache=True, nogil=True)
def sample_events(entry, end, cells, rates, kinds, max_count, history_card, after_flat, after_start, rate_start,
                  edges, key, row_offset, stride, out_type, out_time, out_n, out_end, out_terminal, block):
    """Simulate each unit's events from ``entry`` until a terminal event or ``end``.

    Piecewise-constant competing risks, sampled by inversion of the cumulative hazard: one
    exponential variate per event is spent across the intervals (each interval uses up its total
    hazard times its length), so an interval crossed without an event costs no random draw; when
    the variate runs out inside an interval an event happens there, its type chosen in proportion
    to its hazard, and a fresh variate starts (memorylessness makes this exact). The hazards change
    only at interval edges and events, which is where they are looked up.
    """
    n_units = entry.shape[0]
    n_events = kinds.shape[0]
    n_intervals = edges.shape[0] - 1
    n_blocks = (n_units + block - 1) // block
    for b in numba.prange(n_blocks):
        counts = np.zeros(n_events, dtype=np.int64)
        hazard = np.zeros(n_events, dtype=np.float64)
        for i in range(b * block, min(n_units, (b + 1) * block)):
            counts[:] = 0
            t = entry[i]
            stop = end[i]
            j = 0
            while j < n_intervals - 1 and t >= edges[j + 1]:
                j += 1
            position = np.uint64((row_offset + i) * stride)
            remaining = -math.log1p(-_uniform(key, position))
            draw = np.uint64(1)
            n_out = 0
            terminal = -1
            while t < stop and j < n_intervals:
                segment_end = min(edges[j + 1], stop)
                total = 0.0
                for e in range(n_events):
                    hazard[e] = 0.0
                    if counts[e] < max_count[e]:
                        h = _history(e, counts, max_count, after_flat, after_start)
                        hazard[e] = rates[_flat(e, cells[e, i], h, j, rate_start, history_card, n_intervals)]
                        total += hazard[e]
                used = total * (segment_end - t)
                if used <= remaining:
                    remaining -= used
                    t = segment_end
                    j += 1
                    continue
                t += remaining / total
                if t >= segment_end:  # rounding at the edge: the event falls in the next interval
                    remaining = 0.0
                    t = segment_end
                    j += 1
                    continue
                v = _uniform(key, position + draw) * total
                draw += np.uint64(1)
                chosen = -1
                cumulative = 0.0
                for e in range(n_events):
                    if hazard[e] > 0.0:
                        chosen = e
                        cumulative += hazard[e]
                        if v < cumulative:
                            break
                out_type[i, n_out] = chosen
                out_time[i, n_out] = t
                n_out += 1
                counts[chosen] += 1
                if kinds[chosen] == TERMINAL:
                    terminal = chosen
                    break
                remaining = -math.log1p(-_uniform(key, position + draw))
                draw += np.uint64(1)
            out_n[i] = n_out
            out_terminal[i] = terminal
            out_end[i] = t if terminal >= 0 else stop
