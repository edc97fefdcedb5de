"""Model files: one JSON document holding everything needed to sample, and nothing private.

Layout (format version 1)::

    {"format": "bayesgen-model", "format_version": 1, "bayesgen_version": ...,
     "schema": {...}, "structure": {...}, "cpts": {node: {"parents", "shape", "probabilities"}},
     "privacy": {ledger}, "settings": {...}, "sha256": "<hex of the canonical JSON of the rest>"}

JSON only (never pickle), so loading a model file cannot execute code. Standard JSON: infinite
numbers in the privacy ledger and settings (ε = ∞ for a model fitted without noise) are written as
the strings ``"inf"``/``"-inf"`` and read back as floats. The checksum catches truncation
and accidental edits; loading also re-validates schema, structure and every CPT.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

from bayesgen.errors import BayesgenError, ModelFileError
from bayesgen.files import write_text_atomic

FORMAT = "bayesgen-model"
FORMAT_VERSION = 1


NUMERIC_SECTIONS = ("privacy", "settings")


def _canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _infinities_as_text(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {key: _infinities_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_infinities_as_text(item) for item in value]
    return value


def _infinities_from_text(value):
    if value in ("inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {key: _infinities_from_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_infinities_from_text(item) for item in value]
    return value


def write_model_file(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` with format header and checksum, atomically."""
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    for section in NUMERIC_SECTIONS:
        if section in body:
            body[section] = _infinities_as_text(body[section])
    body["sha256"] = hashlib.sha256(_canonical(body).encode()).hexdigest()
    write_text_atomic(path, json.dumps(body, allow_nan=False))


def read_model_file(path: str | os.PathLike) -> dict:
    """Read and check a model file; raise :class:`ModelFileError` with the reason if it is not sound."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc}") from None
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"model file {path} is not valid JSON (truncated or corrupted?): {exc}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a bayesgen model file")
    if body.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"model file {path} has format version {body.get('format_version')!r}; "
                             f"this bayesgen reads version {FORMAT_VERSION}")
    claimed = body.pop("sha256", None)
    if claimed != hashlib.sha256(_canonical(body).encode()).hexdigest():
        raise ModelFileError(f"model file {path} fails its checksum: it was modified or damaged after it was written")
    for key in ("schema", "structure", "cpts", "privacy"):
        if key not in body:
            raise ModelFileError(f"model file {path} lacks {key!r}")
    for section in NUMERIC_SECTIONS:
        if section in body:
            body[section] = _infinities_from_text(body[section])
    return body


def _refuse_constant(name: str):
    raise json.JSONDecodeError(f"non-standard JSON constant {name}", name, 0)


def check_loaded(path, build):
    """Run ``build()``, turning any validation failure into a :class:`ModelFileError` naming ``path``."""
    try:
        return build()
    except ModelFileError:
        raise
    except (BayesgenError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"model file {path} holds an invalid model: {exc}") from None
