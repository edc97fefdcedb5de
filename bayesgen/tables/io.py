"""Read registry tables from files and write generated tables to a folder, atomically.

CSV files are read with every column as text (so codes such as ``"01"`` keep their form); the
encoder converts numbers and dates per the schema. Output goes to a temporary folder that replaces
the target only when every table has been written, so a failed run leaves no partial output.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from bayesgen.errors import BayesgenError, DataValidationError
from bayesgen.files import current_umask

FORMATS = ("csv", "parquet")


def read_tables(paths, schema, sep: str = ",") -> dict[str, pd.DataFrame]:
    """Read the schema's tables from a folder (``TABLE.csv`` or ``TABLE.parquet``) or from files.

    Examples
    --------
    >>> import tempfile, bayesgen as bg
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> folder = tempfile.mkdtemp() + "/data"
    >>> write_tables(bg.datasets.simulate_registry(100, rng=0), folder, "csv")
    >>> sorted(read_tables([folder], schema))[:3], len(read_tables([folder], schema))
    (['SIM_AV_GENE', 'SIM_AV_PATIENT', 'SIM_AV_TUMOUR'], 10)
    """
    files: dict[str, Path] = {}
    for raw in [paths] if isinstance(paths, str | os.PathLike) else paths:
        path = Path(raw)
        if path.is_dir():
            for name in schema.tables:
                for suffix in (".parquet", ".csv"):
                    candidate = path / f"{name}{suffix}"
                    if candidate.exists():
                        files.setdefault(name, candidate)
        elif path.exists():
            files[path.stem] = path
        else:
            raise BayesgenError(f"input {path} does not exist")
    tables = {}
    for name, path in files.items():
        try:
            if path.suffix == ".parquet":
                tables[name] = pd.read_parquet(path)
            else:
                tables[name] = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                                           encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataValidationError(name, None, f"file {path} is not valid UTF-8 (byte {exc.start})") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
            raise DataValidationError(name, None, f"cannot read {path}: {exc}") from None
    return tables


def write_folder_atomically(out_dir, write, overwrite: bool = False) -> None:
    """Call ``write(staging_folder)``, then put the folder in place of ``out_dir`` in one rename.

    An existing non-empty ``out_dir`` is refused unless ``overwrite`` is true; it is replaced only
    when ``write`` has finished, and put back if the rename fails, so a failed run leaves no
    partial output and loses nothing.
    """
    target = Path(out_dir)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise BayesgenError(f"output folder {target} exists and is not empty; pass overwrite=True "
                            f"(--overwrite) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private (0700); the output folder is ordinary
    try:
        write(staging)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "previous")
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(old / "previous", target)  # put the previous output back as it was
                shutil.rmtree(old, ignore_errors=True)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_tables(tables: dict[str, pd.DataFrame], out_dir, fmt: str = "csv", overwrite: bool = False,
                 sep: str = ",", texts: dict[str, str] | None = None) -> None:
    """Write each table as ``out_dir/TABLE.csv`` or ``.parquet``; the folder appears only when complete.

    An existing non-empty ``out_dir`` is refused unless ``overwrite`` is true. ``texts`` maps file
    names to text written alongside (e.g. ``DATA_DICTIONARY.md``), in the same atomic step.
    """
    if fmt not in FORMATS:
        raise BayesgenError(f"format must be one of {FORMATS}, got {fmt!r}")

    def write(staging: Path) -> None:
        for name, frame in tables.items():
            if fmt == "csv":
                frame.to_csv(staging / f"{name}.csv", index=False, sep=sep, date_format="%Y-%m-%d")
            else:
                frame.to_parquet(staging / f"{name}.parquet", index=False)
        for file_name, text in (texts or {}).items():
            (staging / file_name).write_text(text, encoding="utf-8")

    write_folder_atomically(out_dir, write, overwrite)
