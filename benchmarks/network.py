"""A reproducible random 30-node discrete Bayesian network, shared by the benchmarks.

Single table, categorical columns with 2–8 categories, each node with up to 3 parents chosen among
earlier nodes, CPT rows drawn from a Dirichlet(1) distribution.
"""

from __future__ import annotations

import numpy as np

from bayesgen.params.cpt import ConditionalTable
from bayesgen.schema.schema import Schema
from bayesgen.structure.structure import Structure


def random_network(n_nodes: int = 30, max_parents: int = 3, seed: int = 2024):
    rng = np.random.default_rng(seed)
    names = [f"X{i:02d}" for i in range(n_nodes)]
    cards = rng.integers(2, 9, size=n_nodes)
    columns = [{"name": "ROW_ID", "type": "id"}]
    columns += [{"name": n, "type": "categorical", "categories": [f"c{k}" for k in range(c)]}
                for n, c in zip(names, cards, strict=True)]
    schema = Schema.from_dict({"spec_version": 1, "name": "bench30", "root_table": "BENCH",
                               "tables": {"BENCH": {"primary_key": "ROW_ID", "columns": columns}}})
    edges = []
    for i in range(1, n_nodes):
        k = int(rng.integers(0, min(max_parents, i) + 1))
        for j in sorted(rng.choice(i, size=k, replace=False)):
            edges.append((names[j], names[i]))
    structure = Structure.from_edges(edges, nodes=names)
    cpts = {}
    for i, name in enumerate(names):
        parents = structure.parents(name)
        shape = tuple(int(cards[names.index(p)]) for p in parents) + (int(cards[i]),)
        cpts[name] = ConditionalTable(name, parents, rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]))
    return schema, structure, cpts
