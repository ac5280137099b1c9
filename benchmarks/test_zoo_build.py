"""Building the digits-shift zoo from scratch (goal: <= 60 s on a 2-core machine)."""

import itertools

from stitchbench.zoo import build_zoo

counter = itertools.count()


def test_build_default_zoo(benchmark, digits, tmp_path):
    per_kind: dict[str, float] = {}

    def build():
        cache = tmp_path / f"cache{next(counter)}"  # cold cache every round
        return build_zoo(digits, cache_dir=cache, on_model=lambda d, t: per_kind.__setitem__(d, round(t, 2)))

    zoo = benchmark.pedantic(build, rounds=1, iterations=1)
    benchmark.extra_info.update(per_kind)
    assert len(zoo.records) == 5
    print("\nper model (s):", per_kind)
