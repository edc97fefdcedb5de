"""Adapters that run other synthesizers on the benchmark data (see ``benchmarks/run.py``).

Every adapter takes the same :class:`~peers.common.BenchData` (the person-level table of a data set,
its schema codes and its raw values) and returns a :class:`~peers.common.PeerResult`; a peer that
is not installed or fails returns a result whose ``note`` says why, and never raises.
"""
