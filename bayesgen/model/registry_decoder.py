"""Turn one chunk of sampled codes into the registry's tables: the whole tree of tables, the events.

The order is fixed by what each step needs:

1. the persons' own columns, then every table that does not wait for the events, parents first,
   each table's rows sorted per parent by its ``order_by`` (so a person's first tumour is the index
   tumour, as when fitting), the sort carried down to the tables below;
2. the time-to-event module: status and dates (or durations), and the rows of the tables whose
   rows are event occurrences (SACT regimens, radiotherapy episodes);
3. the person-level outcomes, conditioned on the index rows and the events;
4. the event-driven tables and the tables below them; rows of a table that ``ends_with`` a process
   and are dated after the person's end of it are dropped with everything below them (a parent
   keeps its ``min_rows_per_parent`` rows), and every other date below the person is clamped to the
   end of follow-up;
5. keys, foreign keys and derived columns (copies from ancestors, row numbers, lookups, a
   parent's last child row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesgen.events.sample import sample_registry_events
from bayesgen.sampling import kernels
from bayesgen.sampling.registry import SampledCodes, sample_after_events, sample_outcomes
from bayesgen.schema.columns import days_to_dates
from bayesgen.schema.decode import TableDecoder, day_numbers, decode_offsets
from bayesgen.schema.encode import index_rows, related_rows


class RegistryDecoder:
    """Decode chunks of one sampling run (one instance per run: it holds the per-table decoders)."""

    def __init__(self, schema, structure, plan, events, decoders: dict[str, TableDecoder]):
        self.schema = schema
        self.structure = structure
        self.plan = plan
        self.events = events
        self.decoders = decoders
        self.event_columns = set(structure.event_nodes(schema)) if events is not None else set()
        self.children = {name: [t.name for t in schema.child_tables if t.parent.table == name]
                         for name in schema.tables}
        self.sort_columns = {name: self._sort_columns(table) for name, table in schema.tables.items()}
        self.variables_of = {name: [] for name in schema.tables}
        for variable in schema.variables.values():
            self.variables_of[variable.table].append(variable.name)

    # -- the chunk ------------------------------------------------------------------------------
    def decode(self, sampled: SampledCodes, phase_keys, person_offset: int, offsets: dict[str, int],
               event_keys=()) -> dict[str, pd.DataFrame]:
        """The chunk's tables.

        ``offsets`` gives each child table's global row offset; it is advanced past this chunk's
        sampled rows for the next chunk (rows dropped at the end of follow-up count: they used their
        random streams).
        """
        schema = self.schema
        root = schema.root
        values: dict[str, dict] = {name: {} for name in schema.tables}
        self._decode_columns(root, sampled, values, person_offset, root_only=True)
        early = [t for t in schema.child_tables if not schema.event_driven(t.name)]
        late = [t for t in schema.child_tables if schema.event_driven(t.name)]
        for table in early:
            self._decode_and_order(table, sampled, values, offsets[table.name])
        event_rows = {}
        if self.events is not None:
            status_codes, dates, event_rows = sample_registry_events(self.events, schema, sampled, values, event_keys,
                                                                     person_offset, offsets)
            sampled.codes.update(status_codes)
            for (table_name, column_name), dated in dates.items():
                values[table_name][column_name] = dated
            for table in early:  # the status columns of child-table units (the root's are decoded below)
                self._decode_columns(table, sampled, values, offsets[table.name])
        sample_outcomes(self.plan, schema, sampled, phase_keys, person_offset, block=2048)
        self._decode_columns(root, sampled, values, person_offset)
        if late:
            sample_after_events(self.plan, schema, sampled, phase_keys, offsets,
                                {name: counts for name, (counts, _, _) in event_rows.items()}, block=2048)
            for table in late:
                if table.name in event_rows:
                    _, column, days = event_rows[table.name]
                    values[table.name][column] = days_to_dates(days)
                self._decode_and_order(table, sampled, values, offsets[table.name])
        sampled_rows = dict(sampled.n_rows)
        self._end_follow_up(sampled, values)
        frames = {root.name: self.decoders[root.name].assemble(values[root.name], sampled.n_rows[root.name],
                                                                person_offset)}
        for table in schema.child_tables:
            frames[table.name] = self._assemble(table, sampled, values, frames, offsets[table.name])
        for name in offsets:
            offsets[name] += sampled_rows[name]
        return {name: frames[name] for name in schema.tables}

    # -- columns --------------------------------------------------------------------------------
    def _decode_and_order(self, table, sampled: SampledCodes, values: dict, offset: int) -> None:
        """Decode ``table``'s columns and sort each parent's rows by ``order_by``.

        The values are those of decoding every column in the sampled row order and then sorting; but
        only the columns the sort needs (``order_by``, chained dates and what they are relative to)
        are decoded first and sorted with the codes. The others are decoded after the sort, each row
        with the random numbers of its sampled position, so that they are never moved.
        """
        self._decode_columns(table, sampled, values, offset, only=self.sort_columns[table.name])
        rows = self._order_rows(table, sampled, values)
        self._decode_columns(table, sampled, values, offset, rows=rows)

    def _sort_columns(self, table) -> frozenset:
        """The columns of ``table`` decoded before its rows are sorted: ``order_by``, chained dates (their
        values depend on the row order) and, repeatedly, the same-table columns these are relative to."""
        names = set(table.order_by) | {c.name for c in table.modelled_columns if c.chained}
        while True:
            more = set()
            for column in table.modelled_columns:
                if column.name in names and column.relative_to:
                    anchor_table, anchor_column = self.schema.anchor_of(table, column)
                    if anchor_table == table.name and anchor_column not in names:
                        more.add(anchor_column)
            if not more:
                return frozenset(names)
            names |= more

    def _decode_columns(self, table, sampled: SampledCodes, values: dict, offset: int, root_only: bool = False,
                        only=None, rows: np.ndarray | None = None):
        """Decode every modelled column of ``table`` whose codes and anchor are available now.

        ``only``: decode only these columns. ``rows``: row ``i`` was sampled at position ``rows[i]``
        of the chunk (None: at ``i``); its random numbers are that position's.
        """
        schema = self.schema
        decoder = self.decoders[table.name]
        own = values[table.name]
        for column in sorted(table.modelled_columns, key=lambda c: (bool(c.relative_to), c.chained)):
            if column.name in own or column.name not in sampled.codes or (only is not None and column.name not in only):
                continue
            codes = sampled.codes[column.name]
            if not column.relative_to:
                own[column.name] = decoder.decode_column(column.name, codes, offset, None, rows=rows)
                continue
            anchor_table, anchor_column = schema.anchor_of(table, column)
            if root_only and anchor_table != table.name:
                continue
            if anchor_column not in values[anchor_table]:
                continue
            anchor = day_numbers(values[anchor_table][anchor_column])
            related = related_rows(anchor_table, table.name, sampled, schema)
            if related is not None:
                anchor = np.where(related >= 0, anchor[np.maximum(related, 0)], np.nan) if len(anchor) else \
                    np.full(len(related), np.nan)
            if column.chained:
                if rows is not None:
                    raise AssertionError("chained dates are decoded before the rows are sorted")
                own[column.name] = self._decode_chained(table, column, codes, offset, anchor, sampled)
            else:
                own[column.name] = decoder.decode_column(column.name, codes, offset, anchor, rows=rows)

    def _decode_chained(self, table, column, codes, offset, anchor, sampled):
        """Dates that follow each other under one parent: the anchor plus the running sum of offsets."""
        decoder = self.decoders[table.name]
        index = table.column_names.index(column.name)
        steps = decode_offsets(column, codes, decoder.uniforms(index, offset, len(codes)))
        parent = sampled.parent_row[table.name]
        missing = np.isnan(steps)
        steps = np.where(missing, 0.0, steps)
        total = np.cumsum(steps)
        is_first = np.r_[True, parent[1:] != parent[:-1]] if len(parent) else np.zeros(0, dtype=bool)
        group_start = np.maximum.accumulate(np.where(is_first, np.arange(len(parent)), 0)) if len(parent) else \
            np.zeros(0, dtype=np.int64)
        before = total[group_start] - steps[group_start]
        days = anchor + total - before
        days = np.clip(days, column.minimum, column.maximum)
        days[missing] = np.nan
        return days_to_dates(days)

    # -- row order and removal ------------------------------------------------------------------
    def _order_rows(self, table, sampled: SampledCodes, values: dict) -> np.ndarray | None:
        """Sort each parent's rows of ``table`` by ``order_by`` (then sampling position).

        Returns the order applied (row ``i`` is the former row ``order[i]``), None if none was needed.
        """
        own = values[table.name]
        parent = sampled.parent_row[table.name]
        keys = []
        for name in reversed(table.order_by):
            if name not in own:
                continue
            column = table.column(name)
            value = own[name]
            if column.type == "date":
                days = day_numbers(value)
                keys.append(np.where(np.isnan(days), np.inf, days))
            elif isinstance(value, pd.Categorical):
                codes = np.asarray(value.codes)
                # (in the codes' own dtype: int8 and int16 codes wrap the marker to -1, so their missing
                # values come first; int32 codes put them last. Kept as it is: it fixes the output.)
                keys.append(np.where(codes < 0, np.iinfo(np.int32).max, codes))
            else:
                keys.append(np.asarray(pd.array(value).fillna(np.inf), dtype=np.float64))
        if not keys or not len(parent):
            return None
        key = _single_key(parent, keys)
        if key is None:  # keys that do not fit in one integer: sort on them in turn
            order = np.lexsort([np.arange(len(parent)), *keys, parent])
            if np.array_equal(order, np.arange(len(parent))):
                return None
        elif (key[1:] >= key[:-1]).all():  # rows already in order (often) are left as they are
            return None
        else:
            order = np.argsort(key, kind="stable")
        self._take(table.name, order, sampled, values, within_parents=True)
        return order

    def _take(self, name: str, rows: np.ndarray, sampled: SampledCodes, values: dict,
              within_parents: bool = False) -> None:
        """Keep the rows ``rows`` of table ``name``, in that order (row i <- old row rows[i]); rows of
        the tables below follow their parents (and go with a parent that is not kept).

        ``within_parents``: ``rows`` only reorders each parent's rows (a sort by parent first), so
        that every row keeps its parent and person, and each parent its first row.
        """
        for column, value in list(values[name].items()):
            values[name][column] = value[rows]
        moved = _take_block(name, rows, sampled, in_place=within_parents)
        for variable in self.variables_of[name]:
            if variable in sampled.codes and variable not in moved:
                sampled.codes[variable] = sampled.codes[variable][rows]
        children = [child for child in self.children[name] if child in sampled.parent_row]
        if children:
            new_position = np.full(sampled.n_rows[name], -1, dtype=np.int64)
            new_position[rows] = np.arange(len(rows))
        if not within_parents:
            sampled.parent_row[name] = sampled.parent_row[name][rows]
            sampled.person_row[name] = sampled.person_row[name][rows]
            sampled.n_rows[name] = len(rows)
            sampled.index_row[name] = index_rows(sampled.parent_row[name],
                                                 sampled.n_rows[self.schema.tables[name].parent.table])
        for child in children:
            moved = new_position[sampled.parent_row[child]]
            sampled.parent_row[child] = moved
            kept = np.flatnonzero(moved >= 0)
            self._take(child, kept[np.argsort(moved[kept], kind="stable")], sampled, values)

    # -- follow-up ------------------------------------------------------------------------------
    def _end_follow_up(self, sampled: SampledCodes, values: dict) -> None:
        """Drop rows dated after the end of their ``ends_with`` process; clamp other dates to follow-up."""
        schema = self.schema
        if self.events is None:
            return
        root = schema.root_table
        ends = {}
        for process in schema.events.processes:
            if process.unit == root and process.terminal and process.date in values[root]:
                ends[process.name] = day_numbers(values[root][process.date])
        if not ends:
            return
        for table in schema.child_tables:
            if table.ends_with and table.ends_with in ends and table.order_by:
                first = table.order_by[0]
                if first in values[table.name] and table.column(first).type == "date":
                    end = ends[table.ends_with][sampled.person_row[table.name]]
                    days = day_numbers(values[table.name][first])
                    parent = sampled.parent_row[table.name]
                    rank = np.arange(len(parent)) - sampled.index_row[table.name][parent]
                    # a parent keeps its fewest rows (dated at the end at the latest, below)
                    keep = ~(days > end) | (rank < table.min_rows_per_parent)
                    if not keep.all():
                        self._take(table.name, np.flatnonzero(keep), sampled, values)
        follow_up = next(iter(ends.values()))
        for table in schema.child_tables:
            end = follow_up[sampled.person_row[table.name]]
            for column in table.modelled_columns:
                if column.type != "date" or column.name not in values[table.name]:
                    continue
                days = day_numbers(values[table.name][column.name])
                late = days > end
                if late.any():
                    values[table.name][column.name] = days_to_dates(np.where(late, end, days))

    # -- keys and derived columns ---------------------------------------------------------------
    def _assemble(self, table, sampled: SampledCodes, values: dict, frames: dict, offset: int) -> pd.DataFrame:
        schema = self.schema
        own = dict(values[table.name])
        parent_rows = sampled.parent_row[table.name]
        parent_keys = frames[table.parent.table][schema.parent_key_column(table)]
        parent_ids = parent_keys.array[parent_rows] if isinstance(parent_keys.dtype, pd.StringDtype) \
            else parent_keys.to_numpy()[parent_rows]
        for column in table.columns:
            rule = column.derived
            if rule is None:
                continue
            if rule.kind == "copy" and rule.source_table is not None:
                rows = related_rows(rule.source_table, table.name, sampled, schema)
                source = frames[rule.source_table][rule.source_column]
                source = source.array if isinstance(source.dtype, pd.CategoricalDtype | pd.StringDtype) \
                    else source.to_numpy()
                own[f"{rule.source_table}.{rule.source_column}"] = source if rows is None else source[rows]
            elif rule.kind == "row_number":
                starts = sampled.index_row[table.name][parent_rows]
                own[column.name] = pd.array(np.arange(len(parent_rows)) - starts + 1, dtype="Int64")
            elif rule.kind == "map":
                source = own[rule.source_column]
                mapping = dict(rule.values)
                categories = [mapping[c] for c in source.categories]
                target = pd.Index(list(column.categories)).get_indexer(categories)
                codes = np.asarray(source.codes)
                own[column.name] = pd.Categorical.from_codes(np.where(codes >= 0, target[np.maximum(codes, 0)], -1),
                                                             dtype=column.output_dtype)
            elif rule.kind == "last_child":
                child = rule.source_table
                child_parent = sampled.parent_row[child]
                n_parent = sampled.n_rows[table.parent.table]
                last = np.full(n_parent, -1, dtype=np.int64)
                last[child_parent] = np.arange(len(child_parent))  # later rows overwrite: the last one
                picked = last[parent_rows]
                child_values = values[child][rule.source_column]
                if column.type == "date":
                    days = day_numbers(child_values)
                    out = np.where(picked >= 0, days[np.maximum(picked, 0)] if len(days) else np.nan, np.nan)
                    own[column.name] = days_to_dates(out)
                else:
                    own[column.name] = np.asarray(child_values)[np.maximum(picked, 0)]
        return self.decoders[table.name].assemble(own, sampled.n_rows[table.name], offset, parent_ids)


def _take_block(name: str, rows: np.ndarray, sampled: SampledCodes, in_place: bool = False) -> tuple[str, ...]:
    """Move the rows of table ``name``'s phase codes all at once (``sampled.blocks``); the nodes moved.

    ``in_place`` (``rows`` a permutation): only the rows that move are written, in the block itself.
    """
    block = sampled.blocks.pop(name, None)
    if block is None:
        return ()
    array, nodes = block
    for j, node in enumerate(nodes):
        codes = sampled.codes.get(node)
        if codes is None or codes.base is not array or codes.ctypes.data != array[j].ctypes.data:
            return ()  # replaced since: each is moved on its own
    if in_place and len(rows) == array.shape[1]:
        kernels.permute_columns(array, np.asarray(rows, dtype=np.int64))
        sampled.blocks[name] = block  # the views in sampled.codes now show the new order
        return nodes
    taken = array[:, rows]  # one fancy index of the 2-D array: about twice as fast as one per node
    sampled.blocks[name] = (taken, nodes)
    sampled.codes.update(zip(nodes, taken, strict=True))
    return nodes


_KEY_LIMIT = 2**62


def _single_key(parent: np.ndarray, keys: list[np.ndarray]) -> np.ndarray | None:
    """One int64 per row whose stable sort orders the rows as ``np.lexsort([position, *keys, parent])``.

    ``keys`` are in ``np.lexsort`` order (the last one first after ``parent``); each is made a
    whole number from 0 (``+inf``, a missing value, after every other value) and the numbers are
    combined in mixed radix. A stable sort of one nearly sorted integer array is many times faster
    than ``np.lexsort`` on several. None when a key is not whole-numbered or the combination would
    not fit in 62 bits: the caller then uses ``np.lexsort``.
    """
    key = np.asarray(parent, dtype=np.int64)
    bound = int(key.max()) + 1
    for values in reversed(keys):
        values = np.asarray(values)
        if values.dtype.kind in "iub":
            values = values.astype(np.int64)
            low, high = int(values.min()), int(values.max())
            shifted, size = values - low, high - low + 1
            if size > 2 * len(values) + 16:  # a sparse range (a far-off code): the values' ranks instead
                distinct, shifted = np.unique(values, return_inverse=True)
                size = len(distinct)
        elif values.dtype.kind == "f":
            finite = np.isfinite(values)
            present = values[finite]
            if not (finite | (values == np.inf)).all() or not np.array_equal(present, np.floor(present)):
                return None  # NaN, -inf or fractions
            low, high = (float(present.min()), float(present.max())) if len(present) else (0.0, 0.0)
            if high - low >= _KEY_LIMIT:
                return None
            shifted, size = np.where(finite, values - low, high - low + 1).astype(np.int64), int(high - low) + 2
        else:
            return None
        bound *= size
        if bound >= _KEY_LIMIT:
            return None
        key = key * size + shifted
    return key
