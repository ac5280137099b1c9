"""Non-dominated filtering (moocore), with per-objective directions."""

import moocore
import numpy as np


def nondominated(F: np.ndarray, maximize: np.ndarray) -> np.ndarray:
    """The distinct non-dominated rows of F, sorted by the first objective."""
    F = np.unique(np.asarray(F, dtype=float), axis=0)
    keep = moocore.is_nondominated(F, maximise=np.asarray(maximize, dtype=bool))
    front = F[keep]
    return front[np.argsort(front[:, 0], kind="stable")]
