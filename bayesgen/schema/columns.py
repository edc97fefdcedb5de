"""Column declarations: what a column may hold, and how it maps to small integer codes.

A modelled column has ``n_states`` codes ``0 .. n_states - 1``; when missing values are allowed the
last code means "missing". Encoding validates values against the declaration only (never against the
data); decoding turns codes back into typed values, numeric values drawn uniformly within their bin
from uniforms supplied by the caller.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesgen.errors import DataValidationError, SchemaError
from bayesgen.sampling import kernels

COLUMN_TYPES = ("id", "categorical", "ordinal", "integer", "continuous", "date")
MAX_STATES = 32_000  # codes are int16 in the sampler
EPOCH = np.datetime64("1970-01-01", "D")


def _as_day_number(value) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.date):
        return int((np.datetime64(value, "D") - EPOCH).astype(np.int64))
    raise SchemaError(f"not a date: {value!r}")


def days_to_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers (float, NaN for none; fractions floored) as ``datetime64[s]`` values, NaT for NaN.

    Examples
    --------
    >>> days_to_dates(np.array([0.0, 1.5, np.nan])).astype(str).tolist()
    ['1970-01-01T00:00:00', '1970-01-02T00:00:00', 'NaT']
    """
    days = np.asarray(days, dtype=np.float64)
    if days.ndim == 1:
        seconds = np.empty(len(days), dtype=np.int64)
        kernels.days_to_seconds(days, seconds)  # the same values as below, in one pass
        return seconds.view("datetime64[s]")
    missing = np.isnan(days)
    whole = np.floor(np.where(missing, 0.0, days)).astype(np.int64)
    return _seconds_as_dates(whole, missing)


_NAT = np.iinfo(np.int64).min  # the int64 behind NaT
_SECONDS_PER_DAY = np.int64(86_400)


def _seconds_as_dates(days: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    """Whole day numbers (int64, modified in place) as ``datetime64[s]``, NaT where ``missing``.

    The same values as ``(EPOCH + days as timedelta64[D]).astype("datetime64[s]")`` (the epoch is day
    0 and a day has 86,400 seconds), in one multiplication instead of three conversions.
    """
    days *= _SECONDS_PER_DAY
    if missing is not None:
        days[missing] = _NAT
    return days.view("datetime64[s]")


def _day_to_iso(day: int) -> str:
    return str(EPOCH + np.timedelta64(int(day), "D"))


@dataclass(frozen=True)
class DerivedRule:
    """How a derived column is computed when decoding.

    ``kind`` is one of:

    - ``copy``: the value of ``source_column`` of the same row (``source_table`` None) or of the
      row's ancestor in ``source_table`` (through the foreign keys);
    - ``prefix``: the first ``length`` characters of a categorical column of the same row;
    - ``map``: a fixed public lookup (``values``) from a categorical column of the same row;
    - ``row_number``: the row's 1-based position among its parent's rows, in ``order_by`` order;
    - ``last_child``: the value of ``source_column`` on the last row (in order) of the child table
      ``source_table`` of this row's parent (a regimen's final treatment date is its last cycle's).
    """

    kind: str
    source_column: str | None = None
    source_table: str | None = None
    length: int | None = None
    values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(cls, data: dict, where: str) -> DerivedRule:
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: derived must be a mapping")
        if "copy" in data:
            source = str(data["copy"])
            table, _, column = source.rpartition(".")
            return cls("copy", column, table or None)
        if "prefix" in data:
            length = data.get("length")
            if not isinstance(length, int) or length < 1:
                raise SchemaError(f"{where}: derived prefix needs a positive integer 'length'")
            return cls("prefix", str(data["prefix"]), None, length)
        if "map" in data:
            values = data.get("values")
            if not isinstance(values, dict) or not values:
                raise SchemaError(f"{where}: derived map needs a non-empty 'values' mapping")
            return cls("map", str(data["map"]), None,
                       values=tuple((_category_string(k), _category_string(v)) for k, v in values.items()))
        if "row_number" in data:
            if data["row_number"] is not True:
                raise SchemaError(f"{where}: write 'row_number: true'")
            return cls("row_number")
        if "last_child" in data:
            table, _, column = str(data["last_child"]).rpartition(".")
            if not table:
                raise SchemaError(f"{where}: last_child needs TABLE.COLUMN")
            return cls("last_child", column, table)
        raise SchemaError(f"{where}: derived rule must be one of copy, prefix, map, row_number, last_child; "
                          f"got {sorted(data)}")

    def to_dict(self) -> dict:
        if self.kind == "copy":
            source = f"{self.source_table}.{self.source_column}" if self.source_table else self.source_column
            return {"copy": source}
        if self.kind == "map":
            return {"map": self.source_column, "values": dict(self.values)}
        if self.kind == "row_number":
            return {"row_number": True}
        if self.kind == "last_child":
            return {"last_child": f"{self.source_table}.{self.source_column}"}
        return {"prefix": self.source_column, "length": self.length}


@dataclass(frozen=True)
class Column:
    """One declared column.

    Examples
    --------
    >>> grade = Column.from_dict({"name": "GRADE", "type": "categorical",
    ...                           "categories": ["G1", "G2", "G3"], "missing": True}, "T")
    >>> grade.n_states
    4
    >>> grade.encode(pd.Series(["G2", None, "G1"]), "T").tolist()
    [1, 3, 0]
    """

    name: str
    type: str
    categories: tuple[str, ...] = ()
    missing: bool = False
    minimum: float | None = None
    maximum: float | None = None
    bins: tuple[float, ...] = ()
    relative_to: str | None = None
    chained: bool = False
    derived: DerivedRule | None = None
    id_format: str | None = None
    labels: dict = field(default_factory=dict, compare=False, hash=False)
    description: str | None = field(default=None, compare=False, hash=False)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, table: str) -> Column:
        if not isinstance(data, dict) or "name" not in data:
            raise SchemaError(f"table {table}: every column needs a 'name' (got {_short(repr(data))})")
        try:
            return cls._from_dict(data, table)
        except SchemaError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, IndexError) as exc:
            raise SchemaError(f"{table}.{_short(str(data['name']))}: malformed declaration "
                              f"({type(exc).__name__}: {_short(str(exc))})") from None

    @classmethod
    def _from_dict(cls, data: dict, table: str) -> Column:
        name = str(data["name"])
        where = f"{table}.{name}"
        kind = data.get("type")
        if kind not in COLUMN_TYPES:
            raise SchemaError(f"{where}: type must be one of {COLUMN_TYPES}, got {kind!r}")
        known = {"name", "type", "categories", "labels", "missing", "min", "max", "bins",
                 "relative_to", "chained", "derived", "format", "description"}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
        missing = data.get("missing", False)
        if not isinstance(missing, bool):
            raise SchemaError(f"{where}: 'missing' must be true or false")
        derived = DerivedRule.from_dict(data["derived"], where) if data.get("derived") else None
        categories: tuple[str, ...] = ()
        minimum = maximum = None
        bins: tuple[float, ...] = ()
        relative_to = data.get("relative_to")
        if kind in ("categorical", "ordinal"):
            raw = data.get("categories")
            if not raw or not isinstance(raw, list):
                raise SchemaError(f"{where}: a {kind} column needs a non-empty 'categories' list")
            categories = tuple(_category_string(c) for c in raw)
            if len(set(categories)) != len(categories):
                dupes = sorted({c for c in categories if categories.count(c) > 1})
                raise SchemaError(f"{where}: duplicated categories {dupes}")
        elif kind in ("integer", "continuous", "date"):
            if "min" not in data or "max" not in data:
                raise SchemaError(f"{where}: a {kind} column needs 'min' and 'max'")
            if kind == "date":
                minimum, maximum = _as_day_number(data["min"]), _as_day_number(data["max"])
            else:
                minimum, maximum = float(data["min"]), float(data["max"])
            if minimum > maximum:
                raise SchemaError(f"{where}: min is after max")
            if derived is None:
                raw_bins = data.get("bins")
                if not raw_bins or len(raw_bins) < 2:
                    raise SchemaError(f"{where}: a modelled {kind} column needs 'bins' (at least 2 edges)")
                if kind == "date" and not relative_to:
                    bins = tuple(float(_as_day_number(b)) for b in raw_bins)
                else:
                    bins = tuple(float(b) for b in raw_bins)
                if any(b >= c for b, c in zip(bins, bins[1:], strict=False)):
                    raise SchemaError(f"{where}: bin edges must increase strictly")
                upper = maximum + 1 if kind in ("integer", "date") else maximum
                if not relative_to and (bins[0] != minimum or bins[-1] != upper):
                    raise SchemaError(
                        f"{where}: bins must start at min and end at "
                        f"{'max + 1' if kind in ('integer', 'date') else 'max'}"
                        f" (got {raw_bins[0]!r} .. {raw_bins[-1]!r})")
                if relative_to and bins[0] > 0:
                    raise SchemaError(f"{where}: bins of a relative date are day offsets starting at 0 "
                                      f"or below (negative: days before the anchor)")
                if kind in ("integer", "date") and any(b != int(b) for b in bins):
                    raise SchemaError(f"{where}: bins of an {kind} column must be whole numbers")
        if relative_to and kind != "date":
            raise SchemaError(f"{where}: only a date column can be relative_to another")
        chained = data.get("chained", False)
        if not isinstance(chained, bool) or (chained and not relative_to):
            raise SchemaError(f"{where}: 'chained: true' needs relative_to (the first row's anchor)")
        if chained and bins and bins[0] < 0:
            raise SchemaError(f"{where}: a chained date follows the previous row: its offsets start at 0")
        column = cls(name=name, type=kind, categories=categories, missing=missing,
                     minimum=minimum, maximum=maximum, bins=bins, relative_to=relative_to, chained=chained,
                     derived=derived, id_format=data.get("format"),
                     labels=dict(data.get("labels") or {}), description=data.get("description"))
        if column.is_modelled and column.n_states > MAX_STATES:
            raise SchemaError(f"{where}: {column.n_states} states exceed the limit of {MAX_STATES}")
        return column

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "type": self.type}
        if self.description:
            out["description"] = self.description
        if self.categories:
            out["categories"] = list(self.categories)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.type in ("integer", "continuous", "date"):
            if self.type == "date":
                out["min"], out["max"] = _day_to_iso(self.minimum), _day_to_iso(self.maximum)
            else:
                out["min"], out["max"] = _plain_number(self.minimum), _plain_number(self.maximum)
            if self.bins:
                if self.type == "date" and not self.relative_to:
                    out["bins"] = [_day_to_iso(b) for b in self.bins]
                else:
                    out["bins"] = [_plain_number(b) for b in self.bins]
        if self.relative_to:
            out["relative_to"] = self.relative_to
        if self.chained:
            out["chained"] = True
        if self.missing:
            out["missing"] = True
        if self.derived:
            out["derived"] = self.derived.to_dict()
        if self.id_format:
            out["format"] = self.id_format
        return out

    # -- properties -----------------------------------------------------------------------------
    @property
    def is_modelled(self) -> bool:
        """True for a column the Bayesian network models (not an id, not derived)."""
        return self.type != "id" and self.derived is None

    @property
    def n_values(self) -> int:
        """Number of non-missing codes."""
        if self.type in ("categorical", "ordinal"):
            return len(self.categories)
        return max(len(self.bins) - 1, 0)

    @property
    def n_states(self) -> int:
        """Number of codes, including the missing code when missing is allowed."""
        return self.n_values + (1 if self.missing else 0)

    @property
    def missing_code(self) -> int | None:
        return self.n_values if self.missing else None

    def states(self) -> list:
        """State labels in code order: categories, or ``(lo, hi)`` bins; ``None`` for missing.

        Absolute date bins are ISO strings; relative date bins are day offsets.
        """
        if self.type in ("categorical", "ordinal"):
            labels: list = list(self.categories)
        else:
            labels = []
            for lo, hi in zip(self.bins, self.bins[1:], strict=False):
                if self.type == "date" and not self.relative_to:
                    labels.append((_day_to_iso(lo), _day_to_iso(hi)))
                elif self.type in ("integer", "date"):
                    labels.append((int(lo), int(hi)))
                else:
                    labels.append((lo, hi))
        if self.missing:
            labels.append(None)
        return labels

    def codes_matching(self, condition) -> np.ndarray:
        """Boolean mask over this column's codes selected by a constraint condition."""
        mask = np.zeros(self.n_states, dtype=bool)
        values = np.array(self.categories + (None,) * (1 if self.missing else 0), dtype=object)
        present = slice(0, self.n_values)
        if condition.kind == "missing":
            if condition.values[0]:
                if self.missing:
                    mask[self.missing_code] = True
            else:
                mask[present] = True
        elif condition.kind in ("in", "not_in"):
            chosen = np.isin(values[present].astype(str), list(condition.values))
            mask[present] = chosen if condition.kind == "in" else ~chosen
        elif condition.kind == "startswith":
            mask[present] = [str(v).startswith(tuple(condition.values)) for v in values[present]]
        return mask

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, values: pd.Series, table: str, anchor_days: np.ndarray | None = None) -> np.ndarray:
        """Map typed values to codes (int16), raising :class:`DataValidationError` on bad input."""
        if not self.is_modelled:
            raise SchemaError(f"{table}.{self.name} is not modelled and has no codes")
        if self.type in ("categorical", "ordinal"):
            codes, is_missing = _encode_categories(values, self.categories, table, self.name)
        else:
            is_missing = _missing_mask(values)
        n_missing = int(is_missing.sum())
        if n_missing and not self.missing:
            raise DataValidationError(table, self.name, "missing value where the schema allows none",
                                      n_rows=n_missing)
        present = ~is_missing
        if self.type not in ("categorical", "ordinal"):
            codes = np.full(len(values), -1, dtype=np.int32)
            numbers = self._to_numbers(values[present], table, anchor_days[present] if anchor_days is not None else None)
            edges = np.asarray(self.bins)
            found = np.searchsorted(edges, numbers, side="right") - 1
            if self.relative_to:
                outside = (numbers < edges[0]) | (numbers >= edges[-1])
                if outside.any():
                    at = np.flatnonzero(outside)[0]
                    offset = int(numbers[at])
                    given = values[present].iloc[at]
                    given = given.date().isoformat() if hasattr(given, "date") else _short(str(given))
                    where = ("before" if edges[0] == 0 else "too long before") if offset < edges[0] \
                        else "too long after"
                    anchor = f"the previous row's {self.name} (or {self.relative_to})" if self.chained \
                        else self.relative_to
                    raise DataValidationError(
                        table, self.name,
                        f"date {where} its anchor {anchor} (allowed: {int(edges[0])} to "
                        f"{int(edges[-1]) - 1} days after it)", value=f"{given} ({offset} days)",
                        n_rows=int(outside.sum()))
            codes[present] = np.clip(found, 0, self.n_values - 1)
        if self.missing:
            codes[is_missing] = self.missing_code
        return codes.astype(np.int16)

    def _to_numbers(self, values: pd.Series, table: str, anchor_days) -> np.ndarray:
        if self.type == "date":
            days = _to_day_numbers(values, table, self.name)
            bad = (days < self.minimum) | (days > self.maximum)
            if bad.any():
                first = _day_to_iso(days[np.flatnonzero(bad)[0]])
                raise DataValidationError(table, self.name,
                                          f"date outside the declared range {_day_to_iso(self.minimum)}"
                                          f" .. {_day_to_iso(self.maximum)}", value=first, n_rows=int(bad.sum()))
            if self.relative_to:
                if anchor_days is None:
                    raise SchemaError(f"{table}.{self.name}: relative date encoded without its anchor")
                no_anchor = np.isnan(anchor_days)
                if no_anchor.any():
                    raise DataValidationError(table, self.name,
                                              f"date present but {self.relative_to} is missing",
                                              n_rows=int(no_anchor.sum()))
                return days - anchor_days
            return days
        if values.dtype == bool or (values.dtype == object and len(values)):
            is_bool = (np.ones(len(values), dtype=bool) if values.dtype == bool else
                       values.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool))
            if is_bool.any():
                raise DataValidationError(table, self.name, f"boolean value (wrong type, expected {self.type})",
                                          value=bool(values[is_bool].iloc[0]), n_rows=int(is_bool.sum()))
        numeric = pd.to_numeric(values, errors="coerce")
        not_number = numeric.isna().to_numpy()
        if not_number.any():
            first = values.iloc[np.flatnonzero(not_number)[0]]
            raise DataValidationError(table, self.name, f"not a number (expected {self.type})",
                                      value=_short(first), n_rows=int(not_number.sum()))
        numbers = numeric.to_numpy(dtype=np.float64)
        infinite = ~np.isfinite(numbers)
        if infinite.any():
            raise DataValidationError(table, self.name, "infinite value", value=float(numbers[infinite][0]),
                                      n_rows=int(infinite.sum()))
        if self.type == "integer":
            fractional = numbers != np.floor(numbers)
            if fractional.any():
                raise DataValidationError(table, self.name, "not a whole number",
                                          value=float(numbers[fractional][0]), n_rows=int(fractional.sum()))
        bad = (numbers < self.minimum) | (numbers > self.maximum)
        if bad.any():
            raise DataValidationError(table, self.name,
                                      f"value outside the declared bounds [{_plain_number(self.minimum)}, "
                                      f"{_plain_number(self.maximum)}]",
                                      value=_plain_number(numbers[bad][0]), n_rows=int(bad.sum()))
        return numbers

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, codes: np.ndarray, uniforms: np.ndarray | None = None,
               anchor_days: np.ndarray | None = None) -> pd.Series | pd.Categorical | np.ndarray:
        """Turn codes back into typed values (see the module docstring).

        Codes come from the sampler and are in range (``0 .. n_states - 1``). Per-code lookup tables
        (the category code pandas stores, a bin's start and width) replace the per-row masks and
        gathers: the values are exactly those of the direct formulas, in fewer passes over the rows.
        """
        codes = np.asarray(codes)
        if len(codes) and codes.min() < 0:  # not sampler output: the general path
            return self._decode_general(codes, uniforms, anchor_days)
        if self.type in ("categorical", "ordinal"):
            return pd.Categorical.from_codes(self._category_codes[codes], dtype=self.output_dtype, validate=False)
        if self.relative_to or self.type == "continuous":
            return self._decode_general(codes, uniforms, anchor_days)
        starts, widths = self._bin_starts_widths
        # lo + floor(u (hi - lo)); every bin edge of an integer or date column is a whole number
        whole = uniforms * widths[codes]
        np.floor(whole, out=whole)
        whole += starts[codes]
        is_missing = codes == self.missing_code if self.missing else None
        if self.type == "integer":
            if is_missing is None:
                return pd.arrays.IntegerArray(whole.astype(np.int64), np.zeros(len(codes), dtype=bool))
            whole[is_missing] = 0
            return pd.arrays.IntegerArray(whole.astype(np.int64), is_missing)
        np.floor(whole, out=whole)  # as days_to_dates does (a no-op for whole-day bins)
        return _seconds_as_dates(whole.astype(np.int64), is_missing)

    @functools.cached_property
    def _category_codes(self) -> np.ndarray:
        """Per code, the pandas category code (-1 for the missing code), in pandas' own code dtype."""
        table = np.arange(self.n_states, dtype=np.int64)
        if self.missing:
            table[self.missing_code] = -1
        return table.astype(self.category_code_dtype)

    @functools.cached_property
    def category_code_dtype(self) -> np.dtype:
        """The dtype pandas gives the codes of this (categorical or ordinal) column's categories."""
        n = len(self.categories)
        return np.dtype(np.int8 if n < np.iinfo(np.int8).max else np.int16 if n < np.iinfo(np.int16).max
                        else np.int32)

    @functools.cached_property
    def _bin_starts_widths(self) -> tuple[np.ndarray, np.ndarray]:
        """Per code, its bin's lower edge and width (the missing code gets the last bin's, then is masked)."""
        edges = np.asarray(self.bins, dtype=np.float64)
        bins = np.minimum(np.arange(self.n_states), len(edges) - 2)
        return edges[bins], edges[bins + 1] - edges[bins]

    def _decode_general(self, codes: np.ndarray, uniforms: np.ndarray | None,
                        anchor_days: np.ndarray | None):
        """:meth:`decode` by the direct formulas (relative dates, continuous values, any codes)."""
        if self.type in ("categorical", "ordinal"):
            if self.missing:
                safe = codes.astype(np.int32, copy=True)
                safe[safe == self.missing_code] = -1
            else:
                safe = codes
            return pd.Categorical.from_codes(safe, dtype=self.output_dtype, validate=False)
        is_missing = codes == self.missing_code if self.missing else np.zeros(len(codes), dtype=bool)
        bin_index = np.where(is_missing, 0, codes).astype(np.intp)
        edges = np.asarray(self.bins)
        lo, hi = edges[bin_index], edges[bin_index + 1]
        if self.type == "continuous":
            values = lo + uniforms * (hi - lo)
            # lo + u (hi - lo) can round up to hi for u just below 1: keep every value inside its bin
            values = np.minimum(values, np.nextafter(hi, -np.inf))
            values = np.minimum(values, self.maximum)
            values[is_missing] = np.nan
            return values
        if self.relative_to:
            # draw only in the part of the bin that keeps the date within the declared maximum
            room = self.maximum - anchor_days + 1
            hi = np.minimum(hi, np.where(np.isnan(room), hi, room))
            hi = np.maximum(hi, lo + 1)
        whole = lo + np.floor(uniforms * (hi - lo))
        if self.type == "integer":
            return pd.arrays.IntegerArray(np.where(is_missing, 0, whole).astype(np.int64), is_missing)
        if self.relative_to:
            whole = np.clip(anchor_days + whole, self.minimum, self.maximum)
        return days_to_dates(np.where(is_missing, np.nan, whole))

    @functools.cached_property
    def output_dtype(self):
        """The pandas dtype of this column in generated tables."""
        if self.type in ("categorical", "ordinal"):
            return pd.CategoricalDtype(list(self.categories), ordered=self.type == "ordinal")
        if self.type == "integer":
            return pd.Int64Dtype()
        if self.type == "continuous":
            return np.dtype("float64")
        if self.type == "date":
            return np.dtype("datetime64[s]")
        return np.dtype("int64") if not self.id_format else pd.StringDtype()


def _category_string(value) -> str:
    if isinstance(value, bool):
        raise SchemaError(f"category {value!r} is a boolean; quote it")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _missing_mask(values: pd.Series) -> np.ndarray:
    mask = values.isna().to_numpy()
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        stripped = values.astype("string").str.strip()
        mask = mask | (stripped == "").fillna(False).to_numpy(dtype=bool)
    return mask


def _unique_as_text(value, table: str, column: str):
    """A distinct input value as category text; None if it is blank. Raises on a wrong type."""
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool | np.bool_):
        raise DataValidationError(table, column, "boolean value in a categorical column (wrong type)",
                                  value=bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            raise DataValidationError(table, column, "infinite value in a categorical column", value=float(value))
        return str(int(value)) if float(value).is_integer() else str(float(value))
    raise DataValidationError(table, column, f"wrong type {type(value).__name__} in a categorical column",
                              value=_short(repr(value)))


def _encode_categories(values: pd.Series, categories, table: str, column: str):
    """Codes (-1 for missing) and the missing mask of a categorical column.

    The column is factorised first, so only its distinct values are checked in Python; a column that
    is already a pandas Categorical is used as it is.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        factor = values.cat.codes.to_numpy()
        uniques = values.cat.categories
    else:
        try:
            factor, uniques = pd.factorize(values, use_na_sentinel=True)
        except TypeError:  # unhashable values (lists, dicts, sets) cannot be categories
            unhashable = values.map(lambda v: not isinstance(v, Hashable)).to_numpy(dtype=bool)
            first = values[unhashable].iloc[0] if unhashable.any() else None
            raise DataValidationError(table, column, "wrong type in a categorical column (not a single value)",
                                      value=_short(repr(first)), n_rows=int(unhashable.sum())) from None
    texts = []
    for position, unique in enumerate(uniques):
        try:
            texts.append(_unique_as_text(unique, table, column))
        except DataValidationError as error:  # name how many rows hold the wrongly typed value
            raise DataValidationError(table, column, error.problem, value=error.value,
                                      n_rows=int((factor == position).sum())) from None
    mapping = pd.Index(list(categories)).get_indexer([t if t is not None else "\x00" for t in texts])
    blank = np.array([t is None for t in texts], dtype=bool)
    mapping = np.where(blank, -2, mapping).astype(np.int32)
    if (mapping == -1).any():
        used = np.zeros(len(mapping), dtype=bool)
        used[factor[factor >= 0]] = True
        bad = np.flatnonzero(used & (mapping == -1))
        if len(bad):
            counts = np.bincount(factor[factor >= 0], minlength=len(mapping))
            raise DataValidationError(table, column, "unknown category (not in the schema's code set)",
                                      value=texts[bad[0]], n_rows=int(counts[bad].sum()))
    has_null = bool((factor < 0).any())
    if not has_null and not blank.any() and np.array_equal(mapping, np.arange(len(mapping))):
        return factor.astype(np.int32), np.zeros(len(factor), dtype=bool)  # same code order: no gather
    lookup = np.append(mapping, np.int32(-2))  # factor -1 (null) picks the last entry: missing
    codes = lookup[factor]
    is_missing = codes == -2
    return codes.astype(np.int32), is_missing


def _to_day_numbers(values: pd.Series, table: str, column: str) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    else:
        text = values.astype("string").str.strip()
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = values.iloc[np.flatnonzero(bad)[0]]
        raise DataValidationError(table, column, "unparseable or out-of-range date (expected YYYY-MM-DD)",
                                  value=_short(first), n_rows=int(bad.sum()))
    return parsed.to_numpy().astype("datetime64[D]").astype(np.int64).astype(np.float64)


def _plain_number(value):
    value = float(value)
    return int(value) if value.is_integer() else value


def _short(value, limit: int = 60):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
