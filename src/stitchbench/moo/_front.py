"""Non-dominated filtering (moocore), with per-objective directions."""

import moocore
import numpy as np


def nondominated(F: np.ndarray, maximize: np.ndarray) -> np.ndarray:
    """The distinct non-dominated rows of F, sorted by the first objective."""
    F = np.unique(np.asarray(F, dtype=float), axis=0)
    keep = moocore.is_nondominated(F, maximise=np.asarray(maximize, dtype=bool))
    front = F[keep]
    return front[np.argsort(front[:, 0], kind="stable")]


def on_front(F: np.ndarray, maximize: np.ndarray) -> np.ndarray:
    """Per row of F: whether it is a row of `nondominated(F, maximize)` (every copy of a front point is)."""
    F = np.asarray(F, dtype=float)
    if not len(F):
        return np.zeros(0, dtype=bool)
    return moocore.is_nondominated(F, maximise=np.asarray(maximize, dtype=bool), keep_weakly=True)
