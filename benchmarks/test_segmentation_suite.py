"""`stitchbench run segmentation` end to end from an empty cache (zoo, stitch sets, search, report).
Goal: within 15 minutes on a 2-core machine. Prints the stage breakdown."""

from stitchbench.benchmark._runner import run_suite
from stitchbench.benchmark._suite import load_suite


def test_segmentation_cold(benchmark, tmp_path):
    suite = load_suite("segmentation")

    def cold():
        return run_suite(suite, tmp_path / "run", cache_dir=tmp_path / "cache", quiet=True)

    outcome = benchmark.pedantic(cold, rounds=1, iterations=1)
    assert outcome.failed == 0
    benchmark.extra_info.update(timings=outcome.timings)
    print(f"\nsegmentation timings (s): {outcome.timings}, total {sum(outcome.timings.values()):.0f}")
