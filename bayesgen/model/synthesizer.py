"""The public model: fit under differential privacy, sample registry-shaped tables, save and load."""

from __future__ import annotations

import functools
import math
import operator
import os
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from bayesgen.backends import Executor, get_executor
from bayesgen.errors import DataValidationError, NotFittedError, SchemaError
from bayesgen.events.calibrate import (
    CALIBRATION_SHARE,
    calibrate_event_rates,
    calibrated_events,
    measure_event_totals,
)
from bayesgen.events.fit import exact_event_statistics, measure_event_model
from bayesgen.events.model import EventModel
from bayesgen.files import resolve_resource
from bayesgen.model.model_file import check_loaded, read_model_file, write_model_file
from bayesgen.model.registry_decoder import RegistryDecoder
from bayesgen.params.cpt import ConditionalTable
from bayesgen.params.fit import exact_family_counts, measure_parameters, sum_exact_counts
from bayesgen.params.prune import DEFAULT_SIZING_SHARE, DEFAULT_THETA, prune_to_noise
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.rng import RandomState, stream_keys
from bayesgen.sampling.registry import RegistryPlan, sample_before_outcomes
from bayesgen.schema.decode import TableDecoder
from bayesgen.schema.encode import encode_tables
from bayesgen.schema.schema import Schema
from bayesgen.structure.structure import Structure
from bayesgen.tables.parts import (
    DEFAULT_CHUNK_ROWS,
    PartsResult,
    count_partition,
    partition_files,
    write_parts,
)

DEFAULT_CHUNK = 1_000_000


def _package_version() -> str:
    try:
        return version("bayesgen")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


class Synthesizer:
    """A Bayesian-network synthesizer of registry tables with a differential-privacy guarantee.

    Parameters
    ----------
    schema : Schema
        The declared, public schema.
    structure : Structure or "learn", optional
        The DAG; default: the shipped structure named like the schema. ``"learn"``: learn it from the
        data under DP (:func:`bayesgen.learn_structure`, PrivBayes-style) with ``structure_share`` of
        the budget, charged to the same accountant as the parameters.
    structure_share : float
        With ``structure="learn"``, the share of the budget spent on the structure (default 0.3, as
        in PrivBayes); the parameters get the rest, including whatever the search left unspent.
    max_parents, constraints
        With ``structure="learn"``: the degree (default: chosen from the data size and budget) and
        the expert constraints (default: the tiers of the shipped structure).
    epsilon : float
        Total privacy budget; ``math.inf`` fits without noise (not private).
    delta : float
        With ``privacy="zcdp"``, the δ of the (ε, δ) guarantee.
    privacy : {"pure", "zcdp"}
        Pure ε-DP with discrete Laplace noise, or zCDP with discrete Gaussian noise.
    allocation : {"uniform", "size"}
        How the budget is split between families (see :mod:`bayesgen.params.allocation`).
    postprocessing : {"project", "clip"}
        How each noisy count table is made non-negative (see :func:`bayesgen.params.fit_parameters`).
    shrinkage : float
        Strength of the pooling of noisy CPT rows (and event hazards) towards their coarser rows, in
        noise units; 0 = off.
    events_share : float
        With a structure that has an ``events`` section (the time-to-event module), the share of the
        budget spent on the event hazards (default 0.35); the CPTs get the rest.
    prune : float or None
        Size each conditional table of a given structure to its noise (PrivBayes' θ-usefulness,
        :func:`bayesgen.params.prune.prune_to_noise`): a node loses its last-listed parents until its
        table's average count per cell is at least ``prune`` noise scales (default 4). The dropped
        edges are in ``pruned_edges_``. ``None`` fits the structure as given. Not applied to learned
        structures (the search sizes them) nor without noise.
    sizing_share : float
        With ``prune``, the share of the budget spent on the noisy row counts that size the tables
        (default 0.01).
    calibrate_events : bool
        Scale the hazards of event types whose occurrences are table rows (regimens, radiotherapy
        episodes) so that the model's synthetic data have as many per unit as a separately measured
        total says (:mod:`bayesgen.events.calibrate`; 5 % of the events budget). Default True; the
        measured occurrences per unit are in ``event_targets_``, the factors in ``event_calibration_``.
    rng : int, Generator or None
        Default randomness for :meth:`sample`. DP noise is never seeded.

    Examples
    --------
    >>> import bayesgen as bg
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> model = bg.Synthesizer(schema, structure=bg.Structure.load("structures/simulacrum_v2.yaml"),
    ...                        epsilon=1.0).fit(bg.datasets.simulate_registry(2_000, rng=0))
    >>> synthetic = model.sample(100, rng=7)
    >>> len(synthetic["SIM_AV_PATIENT"]), round(model.ledger_["spent"], 6)
    (100, 1.0)
    """

    def __init__(self, schema: Schema, structure: Structure | None = None, epsilon: float = 1.0,
                 delta: float = 0.0, privacy: str = "pure", allocation: str = "uniform",
                 postprocessing: str = "project", shrinkage: float = 1.0, structure_share: float = 0.3,
                 max_parents: int | None = None, constraints=None, events_share: float = 0.35,
                 prune: float | None = DEFAULT_THETA, sizing_share: float = DEFAULT_SIZING_SHARE,
                 calibrate_events: bool = True, rng: RandomState = None):
        self.schema = schema
        self.structure = structure
        self.epsilon = epsilon
        self.delta = delta
        self.privacy = privacy
        self.allocation = allocation
        self.postprocessing = postprocessing
        self.shrinkage = shrinkage
        self.structure_share = structure_share
        self.max_parents = max_parents
        self.constraints = constraints
        self.events_share = events_share
        self.prune = prune
        self.sizing_share = sizing_share
        self.calibrate_events = calibrate_events
        self.rng = rng

    # -- fitting --------------------------------------------------------------------------------
    def _resolved_structure(self) -> Structure:
        if self.structure is not None:
            return self.structure
        shipped = resolve_resource(self.schema.name, "structures")
        if not shipped.exists():
            raise SchemaError(f"no structure given and none shipped for schema {self.schema.name}; "
                              f"pass structure=Structure.load(...)")
        return Structure.load(shipped)

    def fit(self, tables) -> Synthesizer:
        """Fit the CPTs to ``tables`` (dict of DataFrames by table name) under the privacy budget.

        Returns ``self``. Sets ``cpts_``, ``ledger_`` (the privacy ledger), ``structure_``, and, for the
        data holder's eyes only (never saved), ``bounding_report_`` (rows dropped by contribution
        bounding) and ``fallback_rows_`` (parent configurations whose noisy counts were empty).
        """
        learn = isinstance(self.structure, str)
        if learn and self.structure != "learn":
            raise ValueError(f"structure must be a Structure, None or 'learn', got {self.structure!r}")
        if learn and not 0 < self.structure_share < 1:
            raise ValueError(f"structure_share must be between 0 and 1, got {self.structure_share!r}")
        structure = None if learn else self._resolved_structure()
        if structure is not None:
            structure.validate_for(self.schema)
        encoded = encode_tables(tables, self.schema)
        accountant = PrivacyAccountant(self.epsilon, self.delta, self.privacy)
        if learn:
            from bayesgen.structure.learn import learn_from_codes

            budget = accountant.budget * self.structure_share if accountant.is_private else math.inf
            structure = learn_from_codes(encoded, self.schema, epsilon=budget, max_parents=self.max_parents,
                                         constraints=self.constraints, rng=self.rng, accountant=accountant,
                                         fit_epsilon=self.epsilon * (1 - self.structure_share))
            structure.validate_for(self.schema)
        events = exact_event_statistics(encoded, self.schema, structure) if self._has_events(structure) else None
        return self._measure(exact_family_counts(encoded, self.schema, structure), events, structure, accountant,
                             prune=not learn)

    def _has_events(self, structure: Structure) -> bool:
        return structure.events is not None and self.schema.events is not None

    def _measure(self, exact, event_statistics, structure: Structure, accountant: PrivacyAccountant,
                 prune: bool = True) -> Synthesizer:
        """Add noise once to the exact statistics (the CPTs', and the hazards' if any) and set the fitted state.

        With pruning, ``sizing_share`` of the budget first buys the noisy row counts that size the
        tables; ``events_share`` of what remains goes to the hazards, the rest to the CPTs.
        """
        prune = prune and self.prune is not None and accountant.is_private
        sizing_budget = 0.0
        if prune:
            if not self.prune > 0:
                raise ValueError(f"prune must be a positive number or None, got {self.prune!r}")
            if not 0 < self.sizing_share < 1:
                raise ValueError(f"sizing_share must be between 0 and 1, got {self.sizing_share!r}")
            sizing_budget = accountant.budget * self.sizing_share
        events_budget = parameters_budget = None
        if event_statistics is not None:
            if not 0 < self.events_share < 1:
                raise ValueError(f"events_share must be between 0 and 1, got {self.events_share!r}")
            remaining = accountant.remaining - sizing_budget
            events_budget = remaining * self.events_share if accountant.is_private else math.inf
            if accountant.is_private:
                parameters_budget = remaining - events_budget
        self.pruned_edges_ = []
        if prune:
            planned = parameters_budget if parameters_budget is not None else accountant.remaining - sizing_budget
            pruning = prune_to_noise(structure, self.schema, exact, accountant, sizing_budget, planned,
                                     theta=float(self.prune), allocation=self.allocation)
            structure, exact, self.pruned_edges_ = pruning.structure, pruning.counts, pruning.dropped
        fitted = measure_parameters(exact, self.schema, structure, accountant, budget=parameters_budget,
                                    allocation=self.allocation, postprocessing=self.postprocessing,
                                    shrinkage=self.shrinkage)
        self.events_ = None
        self.bounding_report_ = exact.bounding_report
        targets = {}
        if event_statistics is not None:
            if self.calibrate_events and calibrated_events(self.schema):
                totals_budget = events_budget * CALIBRATION_SHARE if accountant.is_private else math.inf
                if accountant.is_private:
                    events_budget -= totals_budget
                targets = measure_event_totals(event_statistics, self.schema, accountant, totals_budget)
            self.events_ = measure_event_model(event_statistics, self.schema, structure, accountant,
                                               budget=events_budget, shrinkage=self.shrinkage)
            if self.events_.dropped_:
                self.bounding_report_ = {**self.bounding_report_, "events": dict(self.events_.dropped_)}
        self.structure_ = structure
        self.cpts_ = fitted.cpts
        self.accountant_ = accountant
        self.ledger_ = accountant.ledger()
        self.fallback_rows_ = fitted.fallback_rows
        self._plan = RegistryPlan.compile(self.schema, structure, self.cpts_)
        # post-processing: the hazards of events that are table rows, scaled to their measured totals
        self.event_targets_ = targets
        self.event_calibration_ = calibrate_event_rates(self, targets) if targets else {}
        return self

    def _check_fitted(self):
        if not hasattr(self, "cpts_"):
            raise NotFittedError("this Synthesizer is not fitted yet: call fit(tables) or Synthesizer.load(path)")

    @classmethod
    def from_cpts(cls, schema: Schema, structure: Structure, cpts: dict, ledger: dict | None = None,
                  events: EventModel | None = None) -> Synthesizer:
        """A ready-to-sample model from given CPTs and event hazards (e.g. a ground truth); nothing is fitted."""
        structure.validate_for(schema)
        if (events is None) != (structure.events is None or schema.events is None):
            raise ValueError("give event hazards exactly when the structure and schema declare events")
        model = cls(schema, structure, epsilon=math.inf)
        model.structure_ = structure
        model.events_ = events
        model.cpts_ = dict(cpts)
        model.ledger_ = ledger if ledger is not None else PrivacyAccountant(math.inf).ledger()
        model._plan = RegistryPlan.compile(schema, structure, model.cpts_)
        return model

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, n_patients: int, rng: RandomState = None, chunk_size: int = DEFAULT_CHUNK,
               n_threads: int | None = None) -> dict[str, pd.DataFrame]:
        """Generate ``n_patients`` synthetic persons with all their rows, in the schema's tables.

        The output is identical for a given seed whatever ``chunk_size`` and ``n_threads``.

        Returns
        -------
        dict of str to DataFrame
            Table name to table, columns in schema order.
        """
        parts = {name: [] for name in self.schema.tables}
        for chunk in self.iter_chunks(n_patients, rng=rng, chunk_size=chunk_size, n_threads=n_threads):
            for name, frame in chunk.items():
                parts[name].append(frame)
        return {name: pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
                for name, frames in parts.items()}

    def iter_chunks(self, n_patients: int, rng: RandomState = None, chunk_size: int = DEFAULT_CHUNK,
                    n_threads: int | None = None):
        """Yield the synthetic tables chunk by chunk (memory bounded by ``chunk_size`` persons)."""
        self._check_fitted()
        if not isinstance(n_patients, int | np.integer) or n_patients < 1:
            raise ValueError(f"n_patients must be a positive integer, got {n_patients!r}")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        import numba

        previous_threads = numba.get_num_threads()
        if n_threads is not None:
            numba.set_num_threads(int(n_threads))
        try:
            rng = self.rng if rng is None else rng
            n_processes = len(self.schema.events.processes) if self.events_ is not None else 0
            keys = stream_keys(rng, self._plan.n_streams + len(self.schema.tables) + n_processes)
            phase_keys = keys[: self._plan.n_streams]
            decode_keys = keys[self._plan.n_streams: self._plan.n_streams + len(self.schema.tables)]
            event_keys = keys[self._plan.n_streams + len(self.schema.tables):]
            decoders = {name: TableDecoder(self.schema, table, key)
                        for (name, table), key in zip(self.schema.tables.items(), decode_keys, strict=True)}
            decoder = RegistryDecoder(self.schema, self.structure_, self._plan, self.events_, decoders)
            child_offsets = {t.name: 0 for t in self.schema.child_tables}
            for start in range(0, int(n_patients), int(chunk_size)):
                size = min(int(chunk_size), int(n_patients) - start)
                sampled = sample_before_outcomes(self._plan, self.schema, size, phase_keys, start, child_offsets,
                                                 block=2048)
                yield decoder.decode(sampled, phase_keys, start, child_offsets, event_keys)  # advances the offsets
        finally:
            numba.set_num_threads(previous_threads)

    # -- scale-out: partitioned output and partitioned fitting (see docs/scale-out.md) ------------
    def sample_to(self, path: str | os.PathLike, n_patients: int, format: str = "parquet", rng: RandomState = None,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS, backend="local", workers: int | None = None,
                  scheduler: str | None = None, n_threads: int | None = None, overwrite: bool = False,
                  sep: str = ",", progress=None) -> PartsResult:
        """Write ``n_patients`` synthetic persons to the folder ``path``, one part per chunk, resumably.

        Chunk ``i`` (``chunk_rows`` persons; the last may have fewer) is ``sample(..., rng=child i of
        SeedSequence(rng))`` with its keys moved into ranges of its own
        (:func:`bayesgen.tables.ids.shift_ids`), written as ``path/<TABLE>/part-0000i.<format>`` for
        every table. ``path/manifest.json`` (chunk count, seed, rows and SHA-256 of every part, model
        checksum, library versions) is written last. Only one chunk per worker is in memory at a time.

        The files depend only on the model, ``rng``, ``n_patients`` and ``chunk_rows``: the same for
        every backend and number of workers (they differ from :meth:`sample`'s, which numbers one
        stream). Rerunning the same call after a crash, or after parts were deleted, writes only the
        missing chunks and gives the same files; with ``rng=None`` the rerun reuses the recorded seed.

        Parameters
        ----------
        path : str or PathLike
            Output folder: new, empty, or holding this run (to finish or repair it).
        n_patients : int
        format : {"parquet", "csv"}
        rng : int, SeedSequence, Generator or None
            The root seed (default: the model's ``rng``; None draws a fresh one, recorded).
        chunk_rows : int
            Persons per chunk and part (memory per worker grows with it, not with ``n_patients``).
        backend : {"local", "dask"} or Executor
            ``"local"`` runs chunk after chunk in this process; ``"dask"`` on a Dask cluster: a
            ``LocalCluster`` of ``workers`` processes with one thread each, or the existing one at
            ``scheduler``. The folder must be reachable by every worker under the same path.
        n_threads : int, optional
            Sampler threads per chunk (default: all cores locally, one per Dask worker).
        overwrite : bool
            Delete whatever is in ``path`` first.
        sep : str
            CSV separator.
        progress : callable, optional
            Called with each chunk's number when its parts are written.

        Returns
        -------
        PartsResult
            ``manifest`` (as written), ``generated`` (chunks written by this call) and ``seconds``
            (time per chunk written).

        Examples
        --------
        >>> import tempfile, pandas as pd, bayesgen as bg
        >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
        >>> model = bg.Synthesizer(schema, bg.Structure.load("structures/simulacrum_v2.yaml"),
        ...                        epsilon=1.0).fit(bg.datasets.simulate_registry(1_000, rng=0))
        >>> out = tempfile.mkdtemp() + "/synthetic"
        >>> done = model.sample_to(out, 250, rng=7, chunk_rows=100)
        >>> done.manifest["n_chunks"], len(pd.read_parquet(out + "/SIM_AV_PATIENT"))
        (3, 250)
        """
        self._check_fitted()
        return write_parts(self, path, n_patients, file_format=format, rng=self.rng if rng is None else rng,
                           chunk_rows=chunk_rows, backend=backend, workers=workers, scheduler=scheduler,
                           n_threads=n_threads, overwrite=overwrite, sep=sep, progress=progress)

    def fit_partitioned(self, source: str | os.PathLike, backend="local", workers: int | None = None,
                        scheduler: str | None = None, sep: str = ",") -> Synthesizer:
        """Fit to tables stored as partitions of complete persons, counting each partition where it is.

        ``source`` holds ``<TABLE>/<name>.parquet`` (or ``.csv``) for every table, with the same file
        names in every table folder (:func:`bayesgen.tables.parts.partition_files`). Every partition
        must hold complete persons: all rows of a person, in every table, in the same partition
        (partitioning by person is the data holder's job; a child row whose person is elsewhere is
        a broken-key error, and a person found in two partitions is refused).

        Each partition is validated, bounded and counted exactly (on the Dask workers with
        ``backend="dask"``); the exact counts are added up here, and noise is added once, centrally,
        exactly as :meth:`fit` does: the same counts, the same privacy ledger. Structure learning
        from partitions is not supported: give a structure.

        With an ``events`` section, each partition's exact event counts and exposure are summed the
        same way (:func:`bayesgen.events.fit.exact_event_statistics`) and measured once.

        Examples
        --------
        >>> import tempfile, pathlib, bayesgen as bg
        >>> schema = bg.Schema.load("schemas/gbsg2.yaml")
        >>> data = bg.datasets.load_gbsg2()["GBSG2"]                 # 686 patients, one row each
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "GBSG2").mkdir()
        >>> data[:300].to_parquet(root / "GBSG2" / "part-0.parquet")   # complete persons per file
        >>> data[300:].to_parquet(root / "GBSG2" / "part-1.parquet")
        >>> dag = bg.Structure.load("structures/gbsg2.yaml")
        >>> model = bg.Synthesizer(schema, dag, epsilon=1.0, prune=None)   # the structure as given, so that
        >>> model.fit_partitioned(root).ledger_["entries"] == bg.Synthesizer(  # the two ledgers can be compared
        ...     schema, dag, epsilon=1.0, prune=None).fit(data).ledger_["entries"]
        True
        """
        if isinstance(self.structure, str):
            raise ValueError("fit_partitioned needs a structure (a Structure or None for the shipped one); "
                             "learning a structure from partitions is not supported")
        structure = self._resolved_structure()
        structure.validate_for(self.schema)
        partitions = partition_files(source, self.schema)
        owned = not isinstance(backend, Executor)
        executor = get_executor(backend, workers, scheduler)
        counted, persons, event_statistics = [], [], []
        try:
            count = functools.partial(count_partition, schema=self.schema, structure=structure)
            for result in executor.map_partitions(count, partitions, sep=sep):
                counted.append(result["counts"])
                event_statistics.append(result["events"])
                persons.append(result["persons"])
                person_key = result["person_key"]
        finally:
            if owned:
                executor.close()
        keys = pd.Index(np.concatenate(persons))
        if not keys.is_unique:
            repeated = keys[keys.duplicated()]
            first = repeated[0]
            where = [str(sorted(p.values())[0].stem) for p, k in zip(partitions, persons, strict=True)
                     if (pd.Index(k) == first).any()]
            raise DataValidationError(self.schema.root_table, person_key,
                                      f"{len(repeated.unique())} persons appear in more than one partition "
                                      f"(e.g. in {where[:3]}); each partition must hold complete persons",
                                      value=first.item() if hasattr(first, "item") else first)
        events = functools.reduce(operator.add, event_statistics) if event_statistics[0] is not None else None
        return self._measure(sum_exact_counts(counted), events, structure,
                             PrivacyAccountant(self.epsilon, self.delta, self.privacy))

    # -- files and interop ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model as a JSON model file (the releasable artefact), atomically."""
        self._check_fitted()
        events = {"events": self.events_.to_dict()} if self.events_ is not None else {}
        write_model_file(path, {
            **events,
            "bayesgen_version": _package_version(),
            "schema": self.schema.to_dict(),
            "structure": self.structure_.to_dict(),
            "cpts": {node: table.to_dict() for node, table in self.cpts_.items()},
            "privacy": self.ledger_,
            "settings": {"epsilon": self.epsilon, "delta": self.delta, "privacy": self.privacy,
                         "allocation": self.allocation, "postprocessing": self.postprocessing,
                         "shrinkage": self.shrinkage, "events_share": self.events_share,
                         "prune": self.prune, "sizing_share": self.sizing_share,
                         "calibrate_events": self.calibrate_events},
        })

    @classmethod
    def load(cls, path: str | os.PathLike) -> Synthesizer:
        """Load a model file written by :meth:`save`; no private data is needed to sample from it."""
        body = read_model_file(path)

        def build():
            schema = Schema.from_dict(body["schema"], source=str(path))
            structure = Structure.from_dict(body["structure"], source=str(path))
            structure.validate_for(schema)
            settings = body.get("settings", {})
            model = cls(schema, structure, epsilon=float(settings.get("epsilon", math.inf)),
                        delta=float(settings.get("delta", 0.0)), privacy=settings.get("privacy", "pure"),
                        allocation=settings.get("allocation", "uniform"),
                        postprocessing=settings.get("postprocessing", "project"),
                        shrinkage=float(settings.get("shrinkage", 1.0)),
                        events_share=float(settings.get("events_share", 0.35)),
                        prune=settings.get("prune"), sizing_share=float(settings.get("sizing_share", 0.01)),
                        calibrate_events=bool(settings.get("calibrate_events", True)))
            variables = schema.variables
            cpts = {}
            for node in (n for _, nodes in structure.phases(schema) for n in nodes):
                table = ConditionalTable.from_dict(node, body["cpts"][node])
                expected = tuple(variables[p].n_states for p in structure.parents(node)) + (variables[node].n_states,)
                if table.parents != structure.parents(node) or table.probabilities.shape != expected:
                    raise ValueError(f"CPT of {node} does not match the structure and schema")
                cpts[node] = table
            model.structure_ = structure
            model.cpts_ = cpts
            model.events_ = None
            if model._has_events(structure):
                if not isinstance(body.get("events"), dict):
                    raise ValueError("the structure declares events but the model file has no event hazards")
                model.events_ = EventModel.from_dict(body["events"], schema, structure)
            model.ledger_ = body["privacy"]
            model._plan = RegistryPlan.compile(schema, structure, cpts)
            return model

        return check_loaded(path, build)

    def to_pgmpy(self, event_sample: int = 100_000):
        """The fitted model as a pgmpy ``DiscreteBayesianNetwork`` (passes ``check_model()``).

        Columns written by the time-to-event module are not Bayesian-network nodes. In the export
        they are parentless nodes whose table is their marginal distribution (in the schema's bins),
        estimated from ``event_sample`` synthetic persons sampled with a fixed seed. That is an
        approximation: pgmpy cannot represent the event process itself.
        """
        self._check_fitted()
        variables = self.schema.variables
        states = {n: [str(s) for s in variables[n].states()] for n in self.structure_.nodes}
        tables = {n: t.probabilities for n, t in self.cpts_.items()}
        event_nodes = self.structure_.event_nodes(self.schema) if self.events_ is not None else ()
        if event_nodes:
            from bayesgen.schema.encode import encode_tables

            codes = encode_tables(self.sample(int(event_sample), rng=0), self.schema).codes
            for node in event_nodes:
                counts = np.bincount(codes[node], minlength=variables[node].n_states).astype(float)
                tables[node] = counts / counts.sum()
        return self.structure_.to_pgmpy(tables, states)
