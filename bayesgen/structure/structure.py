"""Bayesian-network structures: a DAG over a schema's model variables, read from expert YAML files.

A :class:`Structure` is a small immutable value: nodes, directed edges (each with the clinical reason
for it), and optional tiers. It validates itself on creation (no cycles, edges respect tiers) and
against a schema (every model variable is a node, parents come from allowed tables, every constraint
is carried by an edge).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import yaml

from bayesgen.errors import StructureError
from bayesgen.files import resolve_resource, write_text_atomic

SPEC_VERSION = 1


@dataclass(frozen=True)
class Tier:
    name: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class StructureDiff:
    """How one structure's edges differ from another's (see :meth:`Structure.diff`).

    Parameters
    ----------
    added : tuple of (parent, child)
        Edges of the other structure that this one lacks in either direction.
    removed : tuple of (parent, child)
        Edges of this structure that the other lacks in either direction.
    reversed : tuple of (parent, child)
        Edges of this structure that the other has the other way round (given as in this one).
    """

    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    reversed: tuple[tuple[str, str], ...] = ()

    @property
    def shd(self) -> int:
        """Structural Hamming distance: edges to add, remove or reverse to turn one DAG into the other."""
        return len(self.added) + len(self.removed) + len(self.reversed)

    def __str__(self) -> str:
        if not self.shd:
            return "SHD 0: the structures have the same edges"
        lines = [f"SHD {self.shd}: {len(self.added)} added, {len(self.removed)} removed, "
                 f"{len(self.reversed)} reversed"]
        for label, edges in (("added", self.added), ("removed", self.removed)):
            lines.extend(f"  {label + ':':<9} {parent} -> {child}" for parent, child in edges)
        lines.extend(f"  reversed: {parent} -> {child} (now {child} -> {parent})"
                     for parent, child in self.reversed)
        return "\n".join(lines)


@dataclass(frozen=True)
class Structure:
    """A DAG over model variables.

    Parameters
    ----------
    nodes : tuple of str
    edges : tuple of (parent, child)
        In file order; a child's parents are ordered as its edges appear.
    tiers : tuple of Tier
        Optional ordered groups; no edge may point from a later tier to an earlier one.
    reasons : dict
        ``(parent, child) -> why``.

    Examples
    --------
    >>> dag = Structure.from_edges([("A", "B"), ("B", "C")])
    >>> dag.parents("C"), dag.topological_order()
    (('B',), ('A', 'B', 'C'))
    >>> Structure.from_edges([("A", "B"), ("B", "A")])
    Traceback (most recent call last):
    ...
    bayesgen.errors.StructureError: the structure has a cycle: A -> B -> A
    """

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    tiers: tuple[Tier, ...] = ()
    reasons: dict = field(default_factory=dict, compare=False, hash=False)
    schema_name: str | None = field(default=None, compare=False)

    def __post_init__(self):
        node_set = set(self.nodes)
        if len(node_set) != len(self.nodes):
            dupes = sorted({n for n in self.nodes if self.nodes.count(n) > 1})
            raise StructureError(f"duplicated nodes: {dupes}")
        for parent, child in self.edges:
            for node in (parent, child):
                if node not in node_set:
                    raise StructureError(f"edge {parent} -> {child}: unknown node {node!r}")
            if parent == child:
                raise StructureError(f"edge {parent} -> {child}: a node cannot be its own parent")
        if len(set(self.edges)) != len(self.edges):
            raise StructureError("duplicated edges")
        try:
            cycle = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
            raise StructureError(f"the structure has a cycle: {path}")
        tier_of = {}
        for rank, tier in enumerate(self.tiers):
            for node in tier.nodes:
                if node not in node_set:
                    raise StructureError(f"tier {tier.name}: unknown node {node!r}")
                if node in tier_of:
                    raise StructureError(f"node {node} is in two tiers")
                tier_of[node] = rank
        for parent, child in self.edges:
            if parent in tier_of and child in tier_of and tier_of[parent] > tier_of[child]:
                raise StructureError(
                    f"edge {parent} -> {child} points from tier {self.tiers[tier_of[parent]].name!r} "
                    f"back to the earlier tier {self.tiers[tier_of[child]].name!r}")

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_edges(cls, edges, nodes=None, tiers=None, reasons=None) -> Structure:
        """Build from a list of ``(parent, child)`` pairs; nodes default to those the edges name."""
        edges = tuple((str(a), str(b)) for a, b in edges)
        if nodes is None:
            seen: dict[str, None] = {}
            for a, b in edges:
                seen.setdefault(a)
                seen.setdefault(b)
            nodes = tuple(seen)
        tiers = tuple(Tier(name, tuple(members)) for name, members in (tiers or []))
        return cls(tuple(nodes), edges, tiers, dict(reasons or {}))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Structure:
        """Read a structure YAML file (a shipped one may be named without its folder)."""
        resolved = resolve_resource(path, "structures")
        try:
            data = yaml.safe_load(Path(resolved).read_text(encoding="utf-8"))
        except OSError as exc:
            raise StructureError(f"cannot read structure file {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise StructureError(f"structure file {path} is not valid YAML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = "structure") -> Structure:
        if not isinstance(data, dict):
            raise StructureError(f"{source}: expected a mapping at the top level")
        if data.get("spec_version") != SPEC_VERSION:
            raise StructureError(f"{source}: spec_version must be {SPEC_VERSION}")
        tiers = []
        nodes: dict[str, None] = {}
        for tier in data.get("tiers") or []:
            if not isinstance(tier, dict) or "name" not in tier or not isinstance(tier.get("nodes"), list):
                raise StructureError(f"{source}: each tier needs 'name' and a 'nodes' list")
            tiers.append(Tier(str(tier["name"]), tuple(str(n) for n in tier["nodes"])))
            for node in tier["nodes"]:
                nodes.setdefault(str(node))
        for node in data.get("nodes") or []:
            nodes.setdefault(str(node))
        edges, reasons = [], {}
        for i, edge in enumerate(data.get("edges") or []):
            if not isinstance(edge, dict) or "from" not in edge or "to" not in edge:
                raise StructureError(f"{source}: edge {i + 1} needs 'from' and 'to'")
            pair = (str(edge["from"]), str(edge["to"]))
            edges.append(pair)
            if edge.get("why"):
                reasons[pair] = str(edge["why"])
            if not tiers and not data.get("nodes"):
                nodes.setdefault(pair[0])
                nodes.setdefault(pair[1])
        try:
            structure = cls(tuple(nodes), tuple(edges), tuple(tiers), reasons, data.get("schema"))
        except StructureError as exc:
            raise StructureError(f"{source}: {exc}") from None
        return structure

    def to_dict(self) -> dict:
        out: dict = {"spec_version": SPEC_VERSION}
        if self.schema_name:
            out["schema"] = self.schema_name
        if self.tiers:
            out["tiers"] = [{"name": t.name, "nodes": list(t.nodes)} for t in self.tiers]
            tiered = {n for t in self.tiers for n in t.nodes}
            rest = [n for n in self.nodes if n not in tiered]
            if rest:
                out["nodes"] = rest
        else:
            out["nodes"] = list(self.nodes)
        out["edges"] = []
        for parent, child in self.edges:
            edge = {"from": parent, "to": child}
            if (parent, child) in self.reasons:
                edge["why"] = self.reasons[(parent, child)]
            out["edges"].append(edge)
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write this structure as YAML, atomically."""
        write_text_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100))

    # -- queries --------------------------------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        graph = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from(self.edges)
        return graph

    def parents(self, node: str) -> tuple[str, ...]:
        """Parents of ``node`` in edge-file order."""
        return tuple(a for a, b in self.edges if b == node)

    def topological_order(self) -> tuple[str, ...]:
        """A topological order that is stable: ties broken by node declaration order."""
        rank = {n: i for i, n in enumerate(self.nodes)}
        return tuple(nx.lexicographical_topological_sort(self.graph, key=rank.__getitem__))

    def has_edge_between(self, a: str, b: str) -> bool:
        return (a, b) in set(self.edges) or (b, a) in set(self.edges)

    def diff(self, other: Structure) -> StructureDiff:
        """The edges that differ between this structure and ``other``.

        An edge of ``other`` whose reverse is in this structure counts once, as reversed, not as
        added and removed. Edges keep file order (this structure's for removed and reversed, the
        other's for added). Nodes are not compared, only edges.

        Parameters
        ----------
        other : Structure

        Returns
        -------
        StructureDiff
            ``added``, ``removed`` and ``reversed`` edges, and ``shd``, the structural Hamming
            distance (their total).

        Examples
        --------
        >>> before = Structure.from_edges([("A", "B"), ("B", "C"), ("A", "D")])
        >>> after = Structure.from_edges([("B", "A"), ("B", "C"), ("C", "D")])
        >>> change = before.diff(after)
        >>> change.added, change.removed, change.reversed, change.shd
        ((('C', 'D'),), (('A', 'D'),), (('A', 'B'),), 3)
        >>> print(change)
        SHD 3: 1 added, 1 removed, 1 reversed
          added:    C -> D
          removed:  A -> D
          reversed: A -> B (now B -> A)
        >>> before.diff(before).shd
        0
        """
        if not isinstance(other, Structure):
            raise TypeError(f"can only diff a Structure with a Structure, not {type(other).__name__}")
        mine, theirs = set(self.edges), set(other.edges)
        added = tuple(e for e in other.edges if e not in mine and (e[1], e[0]) not in mine)
        removed = tuple(e for e in self.edges if e not in theirs and (e[1], e[0]) not in theirs)
        flipped = tuple(e for e in self.edges if e not in theirs and (e[1], e[0]) in theirs)
        return StructureDiff(added, removed, flipped)

    def draw(self, path: str | os.PathLike, schema=None) -> None:
        """Draw this DAG as a PNG or SVG file (by ``path``'s suffix), written atomically.

        Tiers are horizontal bands, top to bottom; nodes in no tier get a band of their own. Needs
        matplotlib (``pip install bayesgen[plot]``). With ``schema``, nodes are coloured by table.
        See :func:`bayesgen.structure.draw.draw_structure`.
        """
        from bayesgen.structure.draw import draw_structure

        draw_structure(self, path, schema=schema)

    # -- schema validation ----------------------------------------------------------------------
    def validate_for(self, schema) -> None:
        """Check this structure against ``schema``; raise :class:`StructureError` naming the problem."""
        variables = schema.variables
        unknown = [n for n in self.nodes if n not in variables]
        if unknown:
            raise StructureError(f"node {unknown[0]!r} is not a model variable of schema {schema.name} "
                                 f"({len(unknown)} unknown: {unknown[:5]})")
        absent = [n for n in variables if n not in self.nodes]
        if absent:
            raise StructureError(f"model variable {absent[0]!r} of schema {schema.name} is not a node of the "
                                 f"structure ({len(absent)} absent: {absent[:5]})")
        root = schema.root_table
        ancestors_in_child = {}
        for node in self.topological_order():
            table = variables[node].table
            for parent in self.parents(node):
                parent_table = variables[parent].table
                if table != root and parent_table not in (table, root):
                    raise StructureError(f"edge {parent} -> {node}: a {table} node can have parents only in "
                                         f"{table} or {root}, not {parent_table}")
                if table != root and ancestors_in_child.get(parent):
                    raise StructureError(
                        f"edge {parent} -> {node}: {parent} is a patient-level outcome of the index "
                        f"{ancestors_in_child[parent]} row and cannot be a parent of a {table} node")
            child_tables = {variables[p].table for p in self.parents(node) if variables[p].table != root}
            child_tables |= {ancestors_in_child[p] for p in self.parents(node) if ancestors_in_child.get(p)}
            if table == root and child_tables:
                if len(child_tables) > 1:
                    raise StructureError(f"node {node} depends on several child tables {sorted(child_tables)}")
                if variables[node].count_of:
                    raise StructureError(f"count variable {node} cannot depend on {sorted(child_tables)[0]} rows")
                ancestors_in_child[node] = next(iter(child_tables))
        for constraint in schema.constraints:
            a, b = constraint.columns
            if not self.has_edge_between(a, b):
                raise StructureError(f"constraint '{constraint.name}' links {a} and {b}, but the structure "
                                     f"has no edge between them; add one (either direction)")

    def phases(self, schema) -> list[tuple[str, tuple[str, ...]]]:
        """Sampling phases in order: ``("root", nodes)``, each child table, then ``("outcome", nodes)``."""
        variables = schema.variables
        order = self.topological_order()
        root = schema.root_table
        outcome: set[str] = set()
        for node in order:
            if variables[node].table == root and any(
                    variables[p].table != root or p in outcome for p in self.parents(node)):
                outcome.add(node)
        phases = [("root", tuple(n for n in order if variables[n].table == root and n not in outcome))]
        for table in schema.child_tables:
            phases.append((table.name, tuple(n for n in order if variables[n].table == table.name)))
        phases.append(("outcome", tuple(n for n in order if n in outcome)))
        return phases

    # -- pgmpy interop --------------------------------------------------------------------------
    def to_pgmpy(self, cpts: dict | None = None, states: dict | None = None):
        """A pgmpy ``DiscreteBayesianNetwork`` with this DAG and, if given, the CPTs.

        ``cpts`` maps node to an array of shape ``(*parent_cards, card)``; ``states`` optionally maps
        node to state names.
        """
        from pgmpy.factors.discrete import TabularCPD
        from pgmpy.models import DiscreteBayesianNetwork

        model = DiscreteBayesianNetwork()
        model.add_nodes_from(self.nodes)
        model.add_edges_from(self.edges)
        if cpts is not None:
            for node in self.nodes:
                table = np.asarray(cpts[node], dtype=float)
                parents = list(self.parents(node))
                card = table.shape[-1]
                values = table.reshape(-1, card).T  # pgmpy: rows = child states, columns = parent configs
                kwargs = {}
                if states is not None:
                    kwargs["state_names"] = {n: [str(s) for s in states[n]] for n in [node, *parents]}
                model.add_cpds(TabularCPD(node, card, values, evidence=parents or None,
                                          evidence_card=list(table.shape[:-1]) or None, **kwargs))
        return model

    @classmethod
    def from_pgmpy(cls, model) -> Structure:
        """The DAG of a pgmpy model (nodes in the model's order)."""
        return cls(tuple(str(n) for n in model.nodes()), tuple((str(a), str(b)) for a, b in model.edges()))
