"""The NCR flat format from the same machinery: 46 items, one row per tumour episode, written the way
IKNL publishes it (semicolon-separated), with a data dictionary, and read back unchanged.

There is no simulator of the NCR file, so the ground truth here is a Bayesian network over the
shipped NCR structure with random (Dirichlet) conditional tables: the test is about the format and
the round trip, not about clinical realism.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.cli.main import main
from bayesgen.params.cpt import ConditionalTable, constraint_mask
from bayesgen.schema.check import check_tables


@pytest.fixture(scope="module")
def ncr():
    schema = bg.Schema.load("schemas/ncr_breast.yaml")
    structure = bg.Structure.load("structures/ncr_breast.yaml")
    generator = np.random.default_rng(0)
    variables = schema.variables
    cpts = {}
    for node in structure.nodes:
        parents = structure.parents(node)
        shape = tuple(variables[p].n_states for p in parents) + (variables[node].n_states,)
        table = generator.dirichlet(np.ones(shape[-1]), size=int(np.prod(shape[:-1]))).reshape(shape)
        allowed = constraint_mask(node, parents, shape, schema) if schema.constraints else None
        if allowed is not None:
            table = np.where(allowed, table, 0.0)
            total = table.sum(axis=-1, keepdims=True)
            table = np.where(total > 0, table / np.where(total > 0, total, 1), 1.0 / shape[-1])
        cpts[node] = ConditionalTable(node, parents, table)
    truth = bg.Synthesizer.from_cpts(schema, structure, cpts)
    return schema, structure, truth.sample(3_000, rng=1)


def test_the_flat_file_has_the_46_items_in_order(ncr):
    schema, structure, tables = ncr
    frame = tables["NCR_BREAST"]
    assert len(frame.columns) == 46 and list(frame.columns) == schema.tables["NCR_BREAST"].column_names
    assert check_tables(tables, schema, structure) == []


def test_cli_writes_semicolon_csv_and_a_data_dictionary_and_reads_it_back(ncr, tmp_path, capsys):
    schema, structure, tables = ncr
    data = tmp_path / "real"
    bg.tables.io.write_tables(tables, data, "csv", sep=";")
    model = tmp_path / "model.json"
    assert main(["fit", str(data), "--schema", "schemas/ncr_breast.yaml", "--structure", "structures/ncr_breast.yaml",
                 "--epsilon", "1", "-o", str(model)]) == 0
    out = tmp_path / "synthetic"
    assert main(["sample", str(model), "-n", "500", "-o", str(out), "--seed", "3"]) == 0
    text = (out / "NCR_BREAST.csv").read_text(encoding="utf-8").splitlines()
    assert text[0].split(";") == schema.tables["NCR_BREAST"].column_names and "," not in text[0]
    dictionary = (out / "DATA_DICTIONARY.md").read_text(encoding="utf-8")
    assert "## NCR_BREAST" in dictionary and "| stadium |" in dictionary and "completeness" in dictionary
    again = bg.tables.io.read_tables([out], schema, sep=";")
    assert len(again["NCR_BREAST"]) >= 500  # several episodes per patient
    assert check_tables(again, schema, structure) == []
    assert not math.isnan(pd.to_numeric(again["NCR_BREAST"]["leeft"]).mean())
