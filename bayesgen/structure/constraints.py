"""Expert constraints on a structure search: tiers, forbidden and required edges, maximum in-degree."""

from __future__ import annotations

from dataclasses import dataclass, field

from bayesgen.errors import StructureError


@dataclass(frozen=True)
class StructureConstraints:
    """What a learned DAG must respect, declared by experts (public, never from the data).

    Parameters
    ----------
    tiers : list of list of str
        Ordered groups of nodes (e.g. patient, tumour, outcome). No edge may point from a later
        tier to an earlier one: treatment cannot cause tumour stage, tumour cannot cause sex.
    forbidden : set of (parent, child)
        Edges that may not appear.
    required : set of (parent, child)
        Edges that must appear.
    max_in_degree : int, optional
        At most this many parents per node.

    Examples
    --------
    >>> rules = StructureConstraints(tiers=[["SEX"], ["SITE", "STAGE"]], required={("SEX", "SITE")})
    >>> rules.allows("STAGE", "SEX"), rules.allows("SITE", "STAGE")
    (False, True)
    >>> StructureConstraints(tiers=[["SEX"], ["SITE"]], required={("SITE", "SEX")})
    Traceback (most recent call last):
    ...
    bayesgen.errors.StructureError: required edge SITE -> SEX points from tier 2 (SITE) back to tier 1 (SEX)
    """

    tiers: tuple[tuple[str, ...], ...] = ()
    forbidden: frozenset = field(default_factory=frozenset)
    required: frozenset = field(default_factory=frozenset)
    max_in_degree: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "tiers", tuple(tuple(t) for t in self.tiers))
        object.__setattr__(self, "forbidden", frozenset(tuple(e) for e in self.forbidden))
        object.__setattr__(self, "required", frozenset(tuple(e) for e in self.required))
        seen: dict[str, int] = {}
        for index, tier in enumerate(self.tiers):
            for node in tier:
                if node in seen:
                    raise StructureError(f"node {node} is in tier {seen[node] + 1} and tier {index + 1}")
                seen[node] = index
        for parent, child in sorted(self.required):
            if (parent, child) in self.forbidden:
                raise StructureError(f"edge {parent} -> {child} is both required and forbidden")
            if parent in seen and child in seen and seen[parent] > seen[child]:
                raise StructureError(f"required edge {parent} -> {child} points from tier {seen[parent] + 1} "
                                     f"({parent}) back to tier {seen[child] + 1} ({child})")
        if self.max_in_degree is not None:
            if self.max_in_degree < 0:
                raise StructureError(f"max_in_degree must be >= 0, got {self.max_in_degree}")
            counts: dict[str, int] = {}
            for _, child in self.required:
                counts[child] = counts.get(child, 0) + 1
            over = {c: k for c, k in counts.items() if k > self.max_in_degree}
            if over:
                raise StructureError(f"required edges give {over} more parents than max_in_degree="
                                     f"{self.max_in_degree}")

    @property
    def tier_of(self) -> dict[str, int]:
        return {node: index for index, tier in enumerate(self.tiers) for node in tier}

    def allows(self, parent: str, child: str) -> bool:
        """Whether the edge ``parent -> child`` is allowed (tiers and forbidden edges)."""
        if (parent, child) in self.forbidden:
            return False
        tiers = self.tier_of
        return not (parent in tiers and child in tiers and tiers[parent] > tiers[child])

    def check(self, structure) -> None:
        """Raise :class:`StructureError` naming the first rule ``structure`` breaks."""
        edges = set(structure.edges)
        for parent, child in sorted(self.required - edges):
            raise StructureError(f"required edge {parent} -> {child} is missing")
        for parent, child in structure.edges:
            if not self.allows(parent, child):
                raise StructureError(f"edge {parent} -> {child} is forbidden or breaks the tiers")
        if self.max_in_degree is not None:
            for node in structure.nodes:
                if len(structure.parents(node)) > self.max_in_degree:
                    raise StructureError(f"{node} has {len(structure.parents(node))} parents, more than "
                                         f"max_in_degree={self.max_in_degree}")

    def with_schema(self, schema, nodes) -> StructureConstraints:
        """These constraints plus what the schema implies.

        Every schema constraint between two columns needs an edge between them (so that sampling can
        enforce it); it becomes a required edge, directed from the earlier tier to the later one, or,
        within a tier, in the tiers' node order.
        """
        position = {node: i for i, node in enumerate(n for tier in self.tiers for n in tier)}
        order = {node: (position.get(node, len(position)), i) for i, node in enumerate(nodes)}
        required = set(self.required)
        for constraint in schema.constraints:
            a, b = constraint.antecedent.column, constraint.consequent.column
            if (a, b) in required or (b, a) in required:
                continue
            edge = (a, b) if order[a] < order[b] else (b, a)
            if not self.allows(*edge):
                edge = (edge[1], edge[0])
                if not self.allows(*edge):
                    raise StructureError(
                        f"schema constraint '{constraint.name}' needs an edge between {edge[1]} and "
                        f"{edge[0]}, but the constraints forbid both directions (forbidden edges or tiers)")
            required.add(edge)
        return StructureConstraints(self.tiers, self.forbidden, frozenset(required), self.max_in_degree)

    @classmethod
    def from_structure(cls, structure, forbidden=(), required=(), max_in_degree=None) -> StructureConstraints:
        """Constraints that take their tiers from an expert structure (e.g. a shipped file)."""
        return cls(tuple(t.nodes for t in structure.tiers), frozenset(forbidden), frozenset(required),
                   max_in_degree)
