"""The German Breast Cancer Study Group 2 (GBSG-2) trial data, shaped as ``schemas/gbsg2.yaml``.

The data are those shipped by lifelines (``lifelines.datasets.load_gbsg2``): 686 women with primary
node-positive breast cancer (Schumacher et al., J Clin Oncol 1994). They are real, public trial data,
used as a small real-world test bed; lifelines is an optional dependency (the ``test`` extra).
"""

from __future__ import annotations

import pandas as pd

TABLE = "GBSG2"
CATEGORICAL = ("horTh", "menostat", "tgrade")
INTEGER = ("age", "tsize", "pnodes", "progrec", "estrec", "time", "cens")


def load_gbsg2() -> dict[str, pd.DataFrame]:
    """Load the GBSG-2 data as ``{"GBSG2": frame}``, shaped exactly as ``schemas/gbsg2.yaml``.

    ``patient_id`` (1..686) is added as the first column; ``horTh``, ``menostat`` and ``tgrade`` are
    strings matching the schema's categories; the other columns are 64-bit integers.

    Returns
    -------
    dict of str to pandas.DataFrame
        One entry, ``"GBSG2"``: 686 rows with columns ``patient_id, horTh, age, menostat, tsize,
        tgrade, pnodes, progrec, estrec, time, cens``.

    Raises
    ------
    ImportError
        If lifelines is not installed (``pip install bayesgen[test]``).

    Examples
    --------
    >>> from bayesgen.datasets.gbsg2 import load_gbsg2
    >>> frame = load_gbsg2()["GBSG2"]
    >>> frame.shape
    (686, 11)
    >>> sorted(frame["tgrade"].unique())
    ['I', 'II', 'III']
    """
    try:
        from lifelines.datasets import load_gbsg2 as _lifelines_gbsg2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_gbsg2 needs the optional dependency lifelines, which ships the GBSG-2 data; "
            "install it with `pip install bayesgen[test]` (or `pip install lifelines`)."
        ) from exc

    raw = _lifelines_gbsg2()
    frame = pd.DataFrame({"patient_id": pd.Series(range(1, len(raw) + 1), dtype="int64")})
    for column in raw.columns:
        values = raw[column].reset_index(drop=True)
        if column in CATEGORICAL:
            frame[column] = values.astype(str).str.strip().astype(object)
        elif column in INTEGER:
            frame[column] = values.astype("int64")
        else:  # a column lifelines added that the schema does not know
            raise ValueError(f"unexpected GBSG-2 column {column!r} from lifelines")
    return {TABLE: frame}
