"""What the CLI commands that need torch do, as functions returning data (`stitchbench.cli` parses and prints)."""

import json
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from stitchbench._artifacts import default_cache_dir
from stitchbench._devices import resolve
from stitchbench._files import check_folder
from stitchbench._params import shown
from stitchbench.data import SCENARIOS, get_scenario
from stitchbench.errors import InputError, unknown
from stitchbench.problems import PROBLEMS
from stitchbench.problems._registry import suite_parameters
from stitchbench.stitching import TracedNet, find_points
from stitchbench.zoo import ARCHITECTURES, build_zoo, check_archs, create, export_model, receive_model
from stitchbench.zoo._build import expand_kinds

from ._runner import RunOutcome, check_run, run_suite
from ._suite import load_suite

MATRIX = "zoo.parquet"
RECORDS = "zoo.json"


def listing(what: str) -> pd.DataFrame:
    if what == "scenarios":
        rows = []
        for e in SCENARIOS:
            params = e.parameters()
            if all(v not in (None, "") for v in params.values()):
                s = e.factory()
                k, sizes = (
                    str(len(s.parties)),
                    "; ".join(
                        f"{p.name} " + "/".join(str(len(p.split(k))) for k in ("train", "val", "test"))
                        for p in s.parties
                    ),
                )
            else:  # needs the user's data (e.g. folder's root)
                k, sizes = "any", "(your data)"
            described = shown(e.factory, params)
            rows.append((e.name, e.tags.get("task", "?"), k, sizes, described, e.about))
        return pd.DataFrame(rows, columns=["name", "task", "K", "parties train/val/test", "parameters", "about"])
    if what == "architectures":
        rows = [
            (
                e.name,
                e.tags.get("task", "any"),
                shown(e.factory, {k: v for k, v in e.parameters().items() if k not in ("in_channels", "num_classes")}),
                e.about,
            )
            for e in ARCHITECTURES
        ]
        return pd.DataFrame(rows, columns=["name", "task", "parameters", "about"])
    if what == "problems":
        return pd.DataFrame(
            [
                (
                    e.name,
                    shown(e.factory, suite_parameters(e.name)),
                    e.about,
                )
                for e in PROBLEMS
            ],
            columns=["name", "parameters", "about"],
        )
    raise unknown("listing", what, ("scenarios", "architectures", "problems"))


def zoo_build(
    scenario_name, params, archs, kinds, seeds, recipe, out: Path | None, cache, quiet, device=None
) -> pd.DataFrame:
    scenario = get_scenario(scenario_name, **params)
    on = resolve(device or "auto")
    if out is not None:
        check_folder(out, "--out")
    archs = archs or [scenario.arch]
    total = len(archs) * len(seeds) * len(expand_kinds(scenario, kinds))
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("training models", total=total)
        zoo = build_zoo(
            scenario,
            archs,
            kinds,
            seeds,
            cache,
            recipe,
            on_model=lambda desc, _t: progress.update(task, advance=1, description=desc),
            device=on,
        )
    matrix = zoo.evaluation_matrix()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        matrix.to_parquet(out / MATRIX, index=False)
        records = [
            {
                "kind": r.kind,
                "arch": r.arch,
                "seed": r.seed,
                "key": r.artifact.key,
                "sha256": r.sha256,
                "touched": list(r.touched),
                "path": str(r.artifact.path),
            }
            for r in zoo.records
        ]
        (out / RECORDS).write_text(json.dumps({"scenario": scenario.identity(), "models": records}, indent=2))
    return matrix


def zoo_show(directory: Path) -> pd.DataFrame:
    path = directory / MATRIX
    if not path.is_file():
        raise InputError(f"{directory} holds no zoo ({MATRIX} not found); create one with 'stitchbench zoo build'")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:  # pyarrow's errors derive from these
        raise InputError(f"{path} is damaged ({type(e).__name__}); rebuild it with 'stitchbench zoo build'") from e


def matrix_view(matrix: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The evaluation matrix as a table: one row per model, one column per party (mean over seeds)."""
    view = matrix[matrix.split == split].pivot_table(index=["kind", "arch"], columns="party", values="value")
    return view.reset_index()


def stitch_points(scenario_name: str, params: dict, arch_a: str | None, arch_b: str | None) -> pd.DataFrame:
    """The points matched between two architectures on a scenario's inputs (untrained weights suffice)."""
    scenario = get_scenario(scenario_name, **params)
    arch_a = arch_a or scenario.arch
    arch_b = arch_b or arch_a
    check_archs(scenario.task, [arch_a, arch_b])
    example = scenario.example()
    nets = [TracedNet(create(a, scenario.in_channels, scenario.num_classes), example) for a in (arch_a, arch_b)]
    rows = [
        (i, p.nodes[0], "x".join(map(str, p.shapes[0])), p.nodes[1], "x".join(map(str, p.shapes[1])))
        for i, p in enumerate(find_points(nets))
    ]
    return pd.DataFrame(rows, columns=["#", f"A ({arch_a})", "A shape", f"B ({arch_b})", "B shape"])


def run(
    suite_ref: str, out: Path | None, executor, workers, address, cache, quiet, check=False, device=None, seeds=None
) -> RunOutcome | int:
    """Run a suite on `device` (default: the suite's), on `seeds` in place of its own (default folder
    runs/<suite>-seeds-<first>-<last>); with `check`, only validate it, the device and its directories (nothing
    is written) and return its job count."""
    suite = load_suite(suite_ref, seeds)
    if workers is not None and not 1 <= workers <= 256:
        raise InputError(f"--workers must be in 1..256, got {workers}")
    out = out or Path("runs") / (f"{suite.name}-seeds-{seeds[0]}-{seeds[-1]}" if seeds else suite.name)
    if check:
        return check_run(suite, out, cache, device)
    return run_suite(suite, out, executor, workers, address, cache, quiet, device)


def zoo_export(scenario_name, params, kind, arch, seed, out: Path, cache, device=None):
    """Export one model of a scenario's zoo (trained on `device`, or reused from the cache)."""
    check_folder(out, "--out")
    scenario = get_scenario(scenario_name, **params)
    zoo = build_zoo(scenario, [arch] if arch else None, [kind], [seed], cache, device=resolve(device or "auto"))
    return export_model(zoo.get(kind, arch, seed), out)


def zoo_import(weights: Path, manifest: Path, cache):
    return receive_model(weights, manifest, cache or default_cache_dir())


def table_export(instance: str, suite_ref: str, out: Path, cache, device=None) -> tuple[dict, float]:
    """Export a tabular instance of a suite (Parquet tables + manifest), built on `device` (default: the
    suite's); returns (manifest, seconds)."""
    from ._export import export_instance

    return export_instance(instance, out, suite_ref, cache, device)


def build_collection(
    out: Path | None,
    only: list[str] | None,
    calibration_run: Path | None,
    cache,
    device=None,
    confirmation_run=None,
    keep_tables: bool = False,
) -> list[dict]:
    """Rebuild the shipped collection (or `only` some instances, into `out`) on `device` (default: the CPU,
    where the shipped tables were built), printing each as it is built; with the calibration of
    `calibration_run` confirmed on `confirmation_run`. With `keep_tables`, only record that calibration in
    the collection already at `out`."""
    from ._collection import build_collection as build
    from ._collection import calibration_records, check_run_of_tables, recalibrate

    if calibration_run and not confirmation_run:
        raise InputError("--calibration needs --confirmation: a run of the suite on the confirmation seeds")
    if keep_tables and (not calibration_run or only):
        raise InputError(
            "--keep-tables records a calibration in a whole built collection: give --calibration, not --only"
        )
    calibration = calibration_records(calibration_run, confirmation_run) if calibration_run else None
    if keep_tables:
        check_run_of_tables(calibration_run, out)  # its confirmation ran the same instances (`calibration_of_run`)
        return recalibrate(calibration, out)

    def report(name: str, seconds: float, size: int) -> None:
        print(f"  {name}: {size / 1e6:.2f} MB in {seconds:.1f} s", flush=True)

    return build(out, cache_dir=cache, only=only, calibration=calibration, on_instance=report, device=device)
