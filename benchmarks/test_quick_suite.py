"""`stitchbench run quick` end to end: cold (zoo and stitches trained) and warm (all cached).
Goals: cold <= 3 minutes, warm <= 60 s on a 2-core machine (the stitch-ensembles tabular: alpha on a 21-value grid)."""

import itertools

from stitchbench.benchmark._runner import run_suite
from stitchbench.benchmark._suite import load_suite

counter = itertools.count()


def test_quick_cold_then_warm(benchmark, tmp_path):
    suite = load_suite("quick")
    cache = tmp_path / "cache"
    cold = run_suite(suite, tmp_path / "cold", cache_dir=cache, quiet=True)

    def warm():
        return run_suite(suite, tmp_path / f"warm{next(counter)}", cache_dir=cache, quiet=True)

    outcome = benchmark.pedantic(warm, rounds=1, iterations=1)
    benchmark.extra_info.update(cold=cold.timings, warm=outcome.timings)
    print(f"\ncold timings (s): {cold.timings}, total {sum(cold.timings.values()):.0f}")
    print(f"warm timings (s): {outcome.timings}, total {sum(outcome.timings.values()):.0f}")
