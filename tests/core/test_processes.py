"""Pool workers run one BLAS/OpenMP thread each (issue 35: two workers' BLAS threads contend 17x)."""

from threadpoolctl import threadpool_info

from stitchbench._processes import THREAD_VARIABLES, worker_pool


def _threads() -> tuple[list[int], dict[str, str]]:
    import numpy as np

    np.ones((64, 64)) @ np.ones((64, 64))  # BLAS loaded and used
    import os

    return [p["num_threads"] for p in threadpool_info()], {v: os.environ.get(v) for v in THREAD_VARIABLES}


def test_a_pool_worker_runs_one_blas_thread():
    with worker_pool(1) as pool:
        threads, env = pool.submit(_threads).result()
    assert threads, "no native thread pool found in the worker: numpy's BLAS should be one"
    assert threads == [1] * len(threads), f"a worker's thread pools run {threads} threads"
    assert set(env.values()) == {"1"}, env
