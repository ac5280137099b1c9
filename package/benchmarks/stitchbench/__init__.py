from ._stitchbench import available_instances
from ._stitchbench import Problem


__all__ = ["Problem", "available_instances"]
