"""Structures: shipped DAGs validate against their schemas, ordering, tiers, files, pgmpy interop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from pgmpy.models import DiscreteBayesianNetwork

from bayesgen import Schema, Structure, StructureError, Synthesizer
from bayesgen.params import ConditionalTable
from bayesgen.structure.structure import SPEC_VERSION

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SHIPPED = ["simulacrum_v2", "simulacrum_v2_core", "ncr_breast", "gbsg2"]
PAIRS = [(REPO / "schemas" / f"{n}.yaml", REPO / "structures" / f"{n}.yaml") for n in SHIPPED] + [
    (FIXTURES / "toy_schema.yaml", FIXTURES / "toy_structure.yaml")]
PAIR_IDS = [*SHIPPED, "toy"]


def random_cpts(schema: Schema, structure: Structure, seed: int = 0) -> dict[str, ConditionalTable]:
    rng = np.random.default_rng(seed)
    variables = schema.variables
    cpts = {}
    for node in structure.nodes:
        parents = structure.parents(node)
        shape = tuple(variables[p].n_states for p in parents)
        cpts[node] = ConditionalTable(node, parents, rng.dirichlet(np.ones(variables[node].n_states), size=shape))
    return cpts


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_structure_validates_against_its_schema(name):
    schema = Schema.load(REPO / "schemas" / f"{name}.yaml")
    structure = Structure.load(REPO / "structures" / f"{name}.yaml")
    assert Structure.load(name) == structure
    structure.validate_for(schema)
    assert structure.schema_name == schema.name
    assert set(structure.nodes) == set(schema.variables)
    carried = structure._carried_by_events(schema)  # constraints a hazard enforces need no edge
    for constraint in schema.constraints:
        if frozenset(constraint.columns) in carried:
            assert structure.events is not None
            continue
        assert structure.has_edge_between(*constraint.columns), constraint.name


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_edge_states_its_clinical_reason(name):
    structure = Structure.load(name)
    assert structure.edges
    missing = [edge for edge in structure.edges if not structure.reasons.get(edge, "").strip()]
    assert missing == []


def test_a_reason_is_optional_in_the_format(toy_structure):
    # the toy fixture gives a reason for one edge only, and loads
    assert toy_structure.reasons == {("SEX", "SITE"): "sex"}
    assert len(toy_structure.edges) == 6


@pytest.mark.parametrize("schema_path,structure_path", PAIRS, ids=PAIR_IDS)
def test_topological_order_respects_every_edge(schema_path, structure_path):
    structure = Structure.load(structure_path)
    order = structure.topological_order()
    assert sorted(order) == sorted(structure.nodes)
    position = {node: i for i, node in enumerate(order)}
    for parent, child in structure.edges:
        assert position[parent] < position[child], (parent, child)
    # the sampling phases partition the nodes, each phase in topological order
    schema = Schema.load(schema_path)
    phases = structure.phases(schema)
    event_nodes = structure.event_nodes(schema)  # written by the time-to-event module, in no phase
    assert sorted(n for _, nodes in phases for n in nodes) == sorted(set(structure.nodes) - set(event_nodes))
    for _, nodes in phases:
        assert [position[n] for n in nodes] == sorted(position[n] for n in nodes)


def test_topological_order_breaks_ties_by_declaration_order():
    structure = Structure.from_edges([("C", "A")], nodes=("Z", "C", "B", "A"))
    assert structure.topological_order() == ("Z", "C", "B", "A")
    assert Structure.from_edges([], nodes=("B", "A")).topological_order() == ("B", "A")


def test_toy_phases(toy_schema, toy_structure):
    assert toy_structure.phases(toy_schema) == [("root", ("SEX", "NT")), ("T", ("SITE", "AGE", "DIAG")),
                                                ("outcome", ("DEAD", "CAUSE", "VSDATE"))]


@pytest.mark.parametrize("name", [*SHIPPED, "toy"])
def test_no_edge_points_back_to_an_earlier_tier(name):
    path = FIXTURES / "toy_structure.yaml" if name == "toy" else REPO / "structures" / f"{name}.yaml"
    structure = Structure.load(path)
    assert structure.tiers
    rank = {node: i for i, tier in enumerate(structure.tiers) for node in tier.nodes}
    assert set(rank) == set(structure.nodes)  # every node is in exactly one tier
    assert all(rank[parent] <= rank[child] for parent, child in structure.edges)


def test_an_edge_back_to_an_earlier_tier_is_refused(tmp_path):
    raw = yaml.safe_load((FIXTURES / "toy_structure.yaml").read_text(encoding="utf-8"))
    raw["edges"].append({"from": "CAUSE", "to": "DIAG"})
    target = tmp_path / "backwards.yaml"
    target.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(StructureError, match=r"backwards\.yaml: edge CAUSE -> DIAG points from tier 'outcome' "
                                             r"back to the earlier tier 'tumour'"):
        Structure.load(target)
    # the same edge inside one tier, or with no tiers at all, is fine
    Structure.from_edges([("CAUSE", "DIAG")], tiers=[("all", ["CAUSE", "DIAG"])])
    Structure.from_edges([("CAUSE", "DIAG")])


@pytest.mark.parametrize("schema_path,structure_path", PAIRS, ids=PAIR_IDS)
def test_save_then_load_gives_the_same_structure(schema_path, structure_path, tmp_path):
    structure = Structure.load(structure_path)
    target = tmp_path / "copy.yaml"
    structure.save(target)
    again = Structure.load(target)
    assert again == structure
    assert again.to_dict() == structure.to_dict()
    assert again.edges == structure.edges  # edge order is parent order: it must survive
    assert again.reasons == structure.reasons and again.schema_name == structure.schema_name
    assert again.tiers == structure.tiers
    assert [p.name for p in tmp_path.iterdir()] == ["copy.yaml"]
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["spec_version"] == SPEC_VERSION == 1
    again.validate_for(Schema.load(schema_path))


def test_untiered_nodes_survive_a_round_trip(tmp_path):
    structure = Structure.from_edges([("A", "B")], nodes=("A", "B", "LONELY"), tiers=[("t", ["A", "B"])])
    structure.save(tmp_path / "s.yaml")
    assert Structure.load(tmp_path / "s.yaml") == structure


def test_unsupported_spec_version_is_refused():
    raw = yaml.safe_load((FIXTURES / "toy_structure.yaml").read_text(encoding="utf-8"))
    with pytest.raises(StructureError, match="spec_version must be 1"):
        Structure.from_dict({**raw, "spec_version": 2})


def _cycle_in(message: str) -> list[str]:
    return message.split("cycle: ", 1)[1].split(" -> ")


def test_cycle_error_names_the_nodes_on_the_cycle():
    edges = [("A", "B"), ("X", "A"), ("B", "C"), ("C", "D"), ("D", "B")]
    with pytest.raises(StructureError, match="has a cycle") as err:
        Structure.from_edges(edges)
    path = _cycle_in(str(err.value))
    assert path[0] == path[-1]
    assert set(path) == {"B", "C", "D"}  # A and X lead into the cycle but are not on it
    assert all(pair in edges for pair in zip(path, path[1:], strict=False))


def test_cycle_in_a_file_names_the_file_and_the_nodes(tmp_path):
    raw = yaml.safe_load((FIXTURES / "toy_structure.yaml").read_text(encoding="utf-8"))
    raw["edges"].append({"from": "CAUSE", "to": "DEAD"})
    target = tmp_path / "cyclic.yaml"
    target.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(StructureError, match=r"cyclic\.yaml: the structure has a cycle") as err:
        Structure.load(target)
    assert set(_cycle_in(str(err.value))) == {"DEAD", "CAUSE"}


def test_self_loop_and_unknown_node_are_refused():
    with pytest.raises(StructureError, match="A -> A: a node cannot be its own parent"):
        Structure.from_edges([("A", "A")])
    with pytest.raises(StructureError, match="unknown node 'Q'"):
        Structure(("A", "B"), (("A", "Q"),))


def test_validation_names_a_constraint_without_an_edge(toy_schema, toy_structure):
    edges = [e for e in toy_structure.edges if e != ("DEAD", "CAUSE")]
    structure = Structure(toy_structure.nodes, tuple(edges), toy_structure.tiers)
    with pytest.raises(StructureError, match="constraint 'cause dead' links CAUSE and DEAD"):
        structure.validate_for(toy_schema)


def test_validation_refuses_a_structure_of_another_schema(toy_structure):
    with pytest.raises(StructureError, match="is not a model variable of schema gbsg2"):
        toy_structure.validate_for(Schema.load("gbsg2"))


def test_fitted_model_converts_to_a_valid_pgmpy_network(toy_schema, toy_structure, toy_tables):
    model = Synthesizer(toy_schema, toy_structure, epsilon=1.0, prune=None).fit(toy_tables)  # every edge kept
    variables = toy_schema.variables
    states = {n: variables[n].states() for n in toy_structure.nodes}
    network = toy_structure.to_pgmpy({n: t.probabilities for n, t in model.cpts_.items()}, states)
    assert isinstance(network, DiscreteBayesianNetwork)
    assert network.check_model() is True
    back = Structure.from_pgmpy(network)
    assert set(back.nodes) == set(toy_structure.nodes)
    assert set(back.edges) == set(toy_structure.edges)
    for node in toy_structure.nodes:
        cpd = network.get_cpds(node)
        assert cpd.variable_card == variables[node].n_states
        assert cpd.state_names[node] == [str(s) for s in states[node]]


@pytest.mark.parametrize("name", ["gbsg2", "simulacrum_v2"])
def test_pgmpy_cpds_hold_our_probabilities_with_several_parents(name):
    schema, structure = Schema.load(name), Structure.load(name)
    cpts = random_cpts(schema, structure)
    events = None
    if structure.events is not None and name == "simulacrum_v2":  # the hazards of the simulator's ground truth
        from bayesgen.datasets import reference_model

        events = reference_model().events_
    elif structure.events is not None:  # any hazards: a constant one per event type and cell
        from bayesgen.events.histories import horizon_days
        from bayesgen.events.layout import build_layouts
        from bayesgen.events.model import EventModel

        horizon = horizon_days(schema)
        layouts = build_layouts(schema, structure, horizon).values()
        events = EventModel(schema, structure, horizon, {n: np.full(layout.shapes[e], 3e-4) for layout in layouts
                                                         for e, n in enumerate(layout.names)})
    if structure.events is not None:
        cpts = {n: t for n, t in cpts.items() if n not in structure.event_nodes(schema)}
    network = Synthesizer.from_cpts(schema, structure, cpts, events=events).to_pgmpy(event_sample=2_000)
    assert network.check_model() is True
    states = {n: [str(s) for s in schema.variables[n].states()] for n in structure.nodes}
    rng = np.random.default_rng(1)
    multi = [n for n in cpts if len(structure.parents(n)) >= 2]
    assert multi
    for node in multi:
        table = cpts[node].probabilities
        for _ in range(5):
            cell = tuple(int(rng.integers(0, k)) for k in table.shape)
            names = (*structure.parents(node), node)
            assignment = {v: states[v][i] for v, i in zip(names, cell, strict=True)}
            assert network.get_cpds(node).get_value(**assignment) == pytest.approx(table[cell], abs=1e-12)
    back = Structure.from_pgmpy(network)
    assert set(back.nodes) == set(structure.nodes) and set(back.edges) == set(structure.edges)
    for node in structure.nodes:
        assert set(back.parents(node)) == set(structure.parents(node))


def test_dag_only_conversion_without_cpts():
    structure = Structure.from_edges([("A", "B"), ("A", "C"), ("B", "C")], nodes=("A", "B", "C", "D"))
    network = structure.to_pgmpy()
    assert sorted(network.nodes()) == ["A", "B", "C", "D"]
    assert Structure.from_pgmpy(network).graph.edges == structure.graph.edges


def test_budget_weights_are_read_validated_written_and_used():
    import bayesgen as bg
    from bayesgen.errors import StructureError
    from bayesgen.params.fit import exact_family_counts, measure_parameters
    from bayesgen.privacy import PrivacyAccountant
    from bayesgen.schema.encode import encode_tables

    body = bg.Structure.load("structures/gbsg2.yaml").to_dict()
    body["budget_weights"] = {"age": 3}
    structure = bg.Structure.from_dict(body)
    assert structure.budget_weights == {"age": 3}
    assert bg.Structure.from_dict(structure.to_dict()).budget_weights == {"age": 3}
    for bad in ({"nope": 2}, {"age": 0}, {"age": "x"}):
        with pytest.raises(StructureError, match="budget_weights"):
            bg.Structure.from_dict({**body, "budget_weights": bad})
    schema = bg.Schema.load("schemas/gbsg2.yaml")
    exact = exact_family_counts(encode_tables(bg.datasets.load_gbsg2(), schema), schema, structure)
    accountant = PrivacyAccountant(1.0)
    measure_parameters(exact, schema, structure, accountant, budget=0.5)
    costs = {e.what.split(" | ")[0]: e.cost for e in accountant.entries}
    others = [c for w, c in costs.items() if w != "counts of age"]
    assert costs["counts of age"] == pytest.approx(3 * others[0]) and all(c == pytest.approx(others[0]) for c in others)
