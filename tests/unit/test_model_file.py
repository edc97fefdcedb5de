"""Model files: save/load fidelity, content (and absence of row-level data), damage detection, atomicity."""

from __future__ import annotations

import json
import math
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

import bayesgen.model.synthesizer as synthesizer_module
from bayesgen import ModelFileError, Synthesizer
from bayesgen.model.model_file import FORMAT, FORMAT_VERSION, read_model_file, write_model_file

TOP_LEVEL = {"format", "format_version", "bayesgen_version", "schema", "structure", "cpts", "privacy",
             "settings", "sha256"}


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(text: str):
    """Parse as RFC 8259 JSON: NaN and Infinity are refused."""
    return json.loads(text, parse_constant=_reject_constant)


@pytest.fixture()
def secret_tables(toy_tables):
    """The toy tables with recognisable person keys, to look for in the model file."""
    tables = {name: frame.copy() for name, frame in toy_tables.items()}
    for frame in tables.values():
        frame["PID"] = [f"secret-pid-{int(i):05d}" for i in frame["PID"]]
    tables["T"]["TID"] = [f"secret-tid-{int(i):05d}" for i in tables["T"]["TID"]]
    return tables


@pytest.fixture()
def model(toy_schema, toy_structure, secret_tables):
    return Synthesizer(toy_schema, toy_structure, epsilon=1.0).fit(secret_tables)


@pytest.fixture()
def saved(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    return path


def rewrite(path: pathlib.Path, edit) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    edit(body)
    path.write_text(json.dumps(body), encoding="utf-8")


def test_loaded_model_samples_exactly_like_the_original(model, saved):
    loaded = Synthesizer.load(saved)
    for seed in (0, 12345):
        expected, actual = model.sample(700, rng=seed), loaded.sample(700, rng=seed)
        assert list(actual) == list(expected) == ["P", "T"]
        for name in expected:
            pd.testing.assert_frame_equal(actual[name], expected[name])
    for node, table in model.cpts_.items():
        assert loaded.cpts_[node].parents == table.parents
        assert np.array_equal(loaded.cpts_[node].probabilities, table.probabilities)  # bit-exact
    assert loaded.ledger_ == model.ledger_
    assert loaded.schema == model.schema and loaded.structure_ == model.structure_


def test_settings_survive_a_round_trip(toy_schema, toy_structure, toy_tables, tmp_path):
    model = Synthesizer(toy_schema, toy_structure, epsilon=0.5, delta=1e-6, privacy="zcdp",
                        allocation="uniform").fit(toy_tables)
    model.save(tmp_path / "m.json")
    loaded = Synthesizer.load(tmp_path / "m.json")
    settings = read_model_file(tmp_path / "m.json")["settings"]
    assert {"epsilon": 0.5, "delta": 1e-6, "privacy": "zcdp", "allocation": "uniform"}.items() <= settings.items()
    for key in settings:
        assert getattr(loaded, key) == getattr(model, key), key


def test_file_is_json_with_every_part_and_no_row_level_data(model, saved, secret_tables, toy_schema,
                                                            toy_structure):
    text = saved.read_text(encoding="utf-8")
    body = strict_json(text)
    assert set(body) == TOP_LEVEL  # nothing else, e.g. no bounding report or fallback rows
    assert body["format"] == FORMAT and body["format_version"] == FORMAT_VERSION == 1
    assert re.fullmatch(r"[0-9a-f]{64}", body["sha256"])
    assert body["schema"] == toy_schema.to_dict()
    # the structure as fitted: the given one less the edges pruned to size the tables to the noise
    assert body["structure"] == model.structure_.to_dict()
    assert set(model.structure_.edges) == set(toy_structure.edges) - set(model.pruned_edges_)
    assert set(body["cpts"]) == set(toy_structure.nodes)
    for node, cpt in body["cpts"].items():
        assert cpt["parents"] == list(model.structure_.parents(node))  # the fitted (pruned) parents
        assert len(cpt["probabilities"]) == math.prod(cpt["shape"])
    assert body["privacy"] == model.ledger_
    assert body["privacy"]["epsilon_spent"] == pytest.approx(1.0)
    assert "secret-" not in text  # no person or tumour key from the input
    # no input date either, apart from the schema's own public bounds and bin edges
    public = json.dumps(body["schema"])
    dates = set(secret_tables["T"]["DIAG"]) | set(secret_tables["P"]["VSDATE"])
    leaked = [d for d in dates if d in text and d not in public]
    assert leaked == []
    assert "bounding" not in text and "fallback" not in text


def test_non_private_model_is_standard_json_and_round_trips(toy_schema, toy_structure, toy_tables, tmp_path):
    model = Synthesizer(toy_schema, toy_structure, epsilon=math.inf).fit(toy_tables)
    model.save(tmp_path / "m.json")
    strict_json((tmp_path / "m.json").read_text(encoding="utf-8"))  # no Infinity token for epsilon = inf
    loaded = Synthesizer.load(tmp_path / "m.json")
    assert math.isinf(loaded.epsilon) and math.isinf(loaded.ledger_["epsilon"])
    pd.testing.assert_frame_equal(loaded.sample(200, rng=3)["T"], model.sample(200, rng=3)["T"])


def test_reformatting_the_json_keeps_the_checksum_valid(saved):
    body = json.loads(saved.read_text(encoding="utf-8"))
    saved.write_text(json.dumps(body, indent=2, sort_keys=True), encoding="utf-8")
    Synthesizer.load(saved)  # the checksum covers the content, not the layout


def test_changed_probability_fails_the_checksum(saved):
    def swap(body):
        node = next(n for n, c in body["cpts"].items() if len(set(c["probabilities"][: c["shape"][-1]])) > 1)
        values = body["cpts"][node]["probabilities"]
        card = body["cpts"][node]["shape"][-1]
        row = values[:card]
        i, j = 0, next(k for k in range(card) if row[k] != row[0])
        values[i], values[j] = values[j], values[i]  # rows still sum to 1: only the checksum can tell

    rewrite(saved, swap)
    with pytest.raises(ModelFileError, match="fails its checksum"):
        Synthesizer.load(saved)


def test_changed_ledger_fails_the_checksum(saved):
    rewrite(saved, lambda body: body["privacy"].update(epsilon_spent=0.1))
    with pytest.raises(ModelFileError, match="checksum"):
        Synthesizer.load(saved)


@pytest.mark.parametrize("keep", [0, 1, 100, 0.5, -1])
def test_truncated_file_is_refused(saved, keep):
    text = saved.read_text(encoding="utf-8")
    cut = int(len(text) * keep) if isinstance(keep, float) else (keep if keep >= 0 else len(text) - 1)
    saved.write_text(text[:cut], encoding="utf-8")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        Synthesizer.load(saved)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_format_version_is_refused(saved, version):
    rewrite(saved, lambda body: body.update(format_version=version))
    with pytest.raises(ModelFileError, match=f"format version {re.escape(repr(version))}; this bayesgen reads "
                                             f"version 1"):
        Synthesizer.load(saved)


def test_other_json_is_not_a_model_file(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else", "format_version": 1}))
    with pytest.raises(ModelFileError, match="is not a bayesgen model file"):
        Synthesizer.load(tmp_path / "other.json")
    with pytest.raises(ModelFileError, match="does not exist"):
        Synthesizer.load(tmp_path / "absent.json")


def test_invalid_content_under_a_valid_checksum_is_refused(saved):
    body = read_model_file(saved)
    payload = {k: v for k, v in body.items() if k not in ("format", "format_version")}
    payload["cpts"]["SITE"]["shape"] = [3, 2]  # schema and structure say (SEX: 2, SITE: 3)
    payload["cpts"]["SITE"]["probabilities"] = [0.5] * 6
    write_model_file(saved, payload)
    with pytest.raises(ModelFileError, match="holds an invalid model"):
        Synthesizer.load(saved)


def test_loading_and_sampling_need_no_data(model, saved, tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("touched the data path")

    monkeypatch.setattr(synthesizer_module, "encode_tables", no_data)
    monkeypatch.setattr(synthesizer_module, "exact_family_counts", no_data)
    monkeypatch.setattr(synthesizer_module, "exact_event_statistics", no_data)
    alone = tmp_path / "elsewhere" / "released.json"
    alone.parent.mkdir()
    alone.write_bytes(saved.read_bytes())
    loaded = Synthesizer.load(alone)
    pd.testing.assert_frame_equal(loaded.sample(300, rng=8)["P"], model.sample(300, rng=8)["P"])


def test_save_leaves_only_the_model_file(model, tmp_path):
    model.save(tmp_path / "a.json")
    model.save(tmp_path / "a.json")  # overwriting an existing model
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_while_writing_keeps_the_previous_file(model, saved, monkeypatch):
    before = saved.read_bytes()

    def half_then_fail(self, data, *args, **kwargs):
        with open(self, "w", encoding="utf-8") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        model.save(saved)
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == ["model.json"]
    Synthesizer.load(saved)


def test_failure_while_replacing_keeps_the_previous_file_and_no_temp(model, saved, monkeypatch):
    before = saved.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("bayesgen.files.os.replace", fail)
    with pytest.raises(OSError, match="Input/output error"):
        model.save(saved)
    with pytest.raises(OSError):
        model.save(saved.parent / "new.json")
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == ["model.json"]
