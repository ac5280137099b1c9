"""stitchbench: a multi-objective benchmark suite for combining disjointly trained networks.

Importing it imports nothing else. The public API is its packages (`stitchbench.moo`, `.tabular`, `.solvers`,
`.results`, `.data`, `.zoo`, `.stitching`, `.problems`, `.benchmark`, `.study`, `.cli`, `.suites`) and two
modules for plugin authors (`stitchbench.errors`, `stitchbench.registry`), each through its `__all__`; modules
named `_name` are private (docs/api.md)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
