from ._stitchbench import Problem


__all__ = ["Problem"]
