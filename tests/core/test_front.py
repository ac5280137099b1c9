"""Non-dominated filtering: `on_front` marks exactly the rows that are points of `nondominated`, every copy of
a front point included, and no dominated row (what a job's front is made of)."""

import numpy as np

from stitchbench.moo._front import nondominated, on_front


def test_on_front_marks_the_rows_of_the_front_and_every_copy():
    F = np.array([[0.9, 0.1], [0.5, 0.5], [0.5, 0.5], [0.4, 0.4], [0.1, 0.9], [0.1, 0.8]])
    mask = on_front(F, np.array([True, True]))
    assert mask.tolist() == [True, True, True, False, True, False]  # the dominated rows are not on it
    assert on_front(F, np.array([False, False])).tolist() == [True, False, False, True, False, True]
    assert on_front(np.empty((0, 2)), np.array([True, True])).shape == (0,)


def test_on_front_is_membership_in_nondominated():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, d = rng.integers(1, 120), rng.integers(2, 6)
        F = rng.integers(0, 5, (n, d)) / 4  # ties and copies on a coarse grid
        maximize = rng.random(d) < 0.5
        front = {tuple(row) for row in nondominated(F, maximize)}
        assert on_front(F, maximize).tolist() == [tuple(row) in front for row in F]
