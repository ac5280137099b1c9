"""stitchbench: a multi-objective benchmark suite for combining disjointly trained networks."""

__version__ = "0.1.0"
