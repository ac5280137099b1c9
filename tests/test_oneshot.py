"""The one-shot families (distill, merge, finetune) on real models: every candidate's scores equal an
independent re-evaluation of its network, nothing reads another party's training data, and a table exports
and loads without torch to the same scores."""

import numpy as np
import pytest
import torch

from stitchbench.data import Party, Scenario
from stitchbench.moo import make_instance
from stitchbench.problems import create_problem
from stitchbench.problems._oneshot import one_shot_recipe
from stitchbench.tabular import load
from stitchbench.tabular._export import export_problem
from stitchbench.zoo import Zoo, build_model, score
from stitchbench.zoo._matching import align, interpolate
from stitchbench.zoo._oneshot import distill, finetune, log_probs, teacher_probs

HOST, OTHER = "uci-digits", "mnist"
SMALL = {  # one cell per value the tests re-evaluate, so the module's builds stay short
    "distill": {"epochs": 1, "lambdas": [0.7], "temperatures": [3.0]},
    "merge": {"weight_levels": 3},
    "finetune": {"epochs": 2, "betas": [0.05]},
}


class NoTraining(dict):
    """A party's splits whose training split may not be read."""

    def __getitem__(self, name):
        if name == "train":
            raise AssertionError("a one-shot family read another party's training split")
        return super().__getitem__(name)


@pytest.fixture(scope="module")
def guarded_zoo(zoo):
    """The zoo's models over a scenario where reading the other party's training split raises."""
    sc = zoo.scenario
    parties = tuple(p if p.name == HOST else Party(p.name, p.source, NoTraining(p.splits)) for p in sc.parties)
    guarded = Scenario(**{**sc.__dict__, "parties": parties})
    return Zoo(guarded, zoo.records, zoo.device, zoo.eval_batch_size)


@pytest.fixture(scope="module")
def problems(guarded_zoo, tmp_path_factory):
    """Each family built (not found in a cache) for host uci-digits on the guarded scenario."""
    cache = tmp_path_factory.mktemp("oneshot-cache")
    return {f: create_problem(f, guarded_zoo, host=HOST, cache_dir=cache, **p) for f, p in SMALL.items()}


def scores(zoo, model) -> np.ndarray:
    """The model's score on every party's val split, as the metric's one implementation computes it."""
    sc = zoo.scenario
    out = []
    for p in sc.party_names:
        probs = torch.cat([model(x).softmax(1) for x in zoo.inputs(p, "val").split(128)])
        out.append(float(score(sc.metric, probs, sc.party(p).split("val").y)))
    return np.array(out)


def lookup(problem, decision: dict) -> np.ndarray:
    return problem.evaluate([decision], "val")[0]


def test_every_family_trains_on_the_hosts_data_alone(problems, guarded_zoo):
    """The builds above ran on a scenario that raises on the other party's training split; each table's
    manifest records the host alone."""
    with pytest.raises(AssertionError, match="another party's training split"):
        guarded_zoo.scenario.party(OTHER).split("train")
    for problem in problems.values():
        assert problem.table_artifact.manifest["touched"] == [HOST] and problem.train_parties() == [HOST]


def test_distill_candidates_equal_their_retrained_students(problems, zoo):
    p = problems["distill"]
    x, y = zoo.scenario.party(HOST).split("train").x, zoo.scenario.party(HOST).split("train").y
    members = [log_probs(zoo.module(r), x) for r in p.records]
    recipe = one_shot_recipe(zoo.scenario, 1, None)
    for share in (0.0, 0.5):
        teacher = teacher_probs(members, [share, 1 - share], 3.0)
        student = distill(zoo.module(p.records[0]), x, y, zoo.scenario.task, teacher, 0.7, 3.0, recipe, 0)
        got = lookup(p, {"lambda": "0.7", "T": "3", "host_share": share})
        assert np.array_equal(got, scores(zoo, student))
    assert len(p.table.front_pool(p.parties())) >= 1 and p.front_kind() == "exact"


def test_finetune_candidates_equal_their_retrained_models(problems, zoo):
    p = problems["finetune"]
    train = zoo.scenario.party(HOST).split("train")
    start = zoo.get(f"local:{OTHER}")
    states = finetune(
        start.module, train.x, train.y, zoo.scenario.task, 0.05, one_shot_recipe(zoo.scenario, 2, None), 0
    )
    for epoch, state in enumerate(states, 1):
        model = build_model(start.manifest["config"], state, "test")
        assert np.array_equal(lookup(p, {"start": OTHER, "beta": "0.05", "epochs": epoch}), scores(zoo, model))


def test_merge_candidates_equal_their_merged_networks(problems, zoo):
    p = problems["merge"]
    host, other = zoo.get(f"local:{HOST}").module, zoo.get(f"local:{OTHER}").module
    config = zoo.get(f"local:{HOST}").manifest["config"]
    aligned = align(host, other, zoo.scenario.example())
    for flag, partner in ((1, aligned), (0, other)):
        merged = build_model(config, interpolate([host.state_dict(), partner.state_dict()], [0.5, 0.5]), "test")
        got = lookup(p, {f"w.{HOST}": 0.5, f"w.{OTHER}": 0.5, "align": flag})
        assert np.array_equal(got, scores(zoo, merged))
        assert np.array_equal(got, lookup(p, {f"w.{HOST}": 1.0, f"w.{OTHER}": 1.0, "align": flag}))  # normalized
    alone = lookup(p, {f"w.{HOST}": 1.0, f"w.{OTHER}": 0.0, "align": 1})
    assert np.array_equal(alone, scores(zoo, host))  # the host alone, aligned or not


def test_merge_refuses_members_of_two_architectures(zoo):
    from stitchbench.errors import InputError
    from stitchbench.problems._merge import MergeProblem

    with pytest.raises(InputError, match="one architecture"):
        MergeProblem.check_params(zoo.scenario, ["cnn", "resnet"], {"archs": ["cnn", "resnet"]})


def test_a_one_shot_table_exports_and_loads_to_the_same_scores(problems, tmp_path):
    p = problems["finetune"]
    rec = make_instance(p, "finetune@uci-digits", "finetune", {"host": HOST}, "digits-shift", {}, 0)
    export_problem(p, rec, tmp_path / "ft")
    loaded = load(tmp_path / "ft")
    X = np.array([[0, 0, e] for e in (1, 2)], dtype=float)
    for split in ("val", "test"):
        assert np.array_equal(loaded.evaluate(X, split), p.evaluate(X, split))
        assert np.array_equal(loaded.exact_front(split), p.exact_front(split))


def test_a_one_shot_fidelity_scores_the_prefix_of_each_partys_val_samples(problems):
    from stitchbench.tabular._fidelity import prefix

    p = problems["merge"]
    X = p.to_matrix([{f"w.{HOST}": w, f"w.{OTHER}": 1 - w, "align": a} for w in (0.0, 0.5, 1.0) for a in (0, 1)])
    cells = p.table.cells(X)
    view = p.with_fidelity(0.3)
    for j, party in enumerate(p.parties()):
        full = p.table.samples[party, "val"]
        kept = full[:, prefix(party, full.shape[1], 0.3)]
        assert np.array_equal(view.evaluate(X, "val")[:, j], kept[cells].astype(np.float64).mean(1))
    assert np.array_equal(view.evaluate(X, "test"), p.evaluate(X, "test")) and 0.29 < view.fidelity_cost < 0.32


@pytest.mark.parametrize("shape", [(6, 4), (3, 3, 5, 5)])
def test_the_distillation_loss_is_per_sample_and_per_pixel_kl_at_temperature(shape):
    """lambda = 1: T^2 KL(teacher_T || student_T), summed over classes and averaged over samples (and pixels);
    zero where the student's tempered output is the teacher; lambda = 0: the task's own loss."""
    from stitchbench.zoo import task_loss
    from stitchbench.zoo._oneshot import distillation_loss

    task = "classification" if len(shape) == 2 else "segmentation"
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(shape, generator=gen)
    y = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=gen)
    teacher = torch.softmax(torch.randn(shape, generator=gen), 1)
    idx = torch.arange(shape[0])
    T = 2.0
    student = (logits / T).log_softmax(1)
    kl = (teacher * (teacher.log() - student)).sum(1).mean()
    assert torch.allclose(distillation_loss(task, y, teacher, 1.0, T)(logits, idx), T * T * kl)
    assert torch.allclose(distillation_loss(task, y, teacher, 0.0, T)(logits, idx), task_loss(task, logits, y))
    itself = torch.softmax(logits / T, 1)
    assert distillation_loss(task, y, itself, 1.0, T)(logits, idx).abs() < 1e-6


@pytest.mark.parametrize("solver", ["pymoo.nsga2", "optuna.nsga2", "random"])
def test_solvers_finish_on_a_grid_smaller_than_their_population(problems, solver):
    """finetune's grid here has 2 cells: a solver stops when nothing new is left (pymoo's mixed-variable mating
    then asks for nothing) instead of failing."""
    from stitchbench.solvers import create_solver
    from stitchbench.solvers._job import run_solver

    run = run_solver(create_solver(solver), problems["finetune"], 50, seed=0)
    assert run.status == "done", run.error
    assert 1 <= len(run.log) <= 50


@pytest.mark.parametrize(
    ("family", "params", "named"),
    [
        ("distill", "{ lambdas = [2.0] }", "lambdas"),
        ("distill", "{ temperatures = [0] }", "temperatures"),
        ("distill", '{ recipe = { lr = "x" } }', "lr"),
        ("finetune", "{ betas = [-1] }", "betas"),
        ("merge", '{ archs = ["cnn", "resnet"] }', "one architecture"),
    ],
)
def test_bad_one_shot_parameters_exit_2_before_anything_is_written(tmp_path, capsys, family, params, named):
    from stitchbench.cli import main

    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "bad"\nseeds = [0]\nbudget = 10\n[[scenarios]]\nname = "digits-shift"\n'
        '[zoo]\narchs = ["cnn", "resnet"]\n'
        f'[[problems]]\nfamily = "{family}"\nparams = {params}\n[[solvers]]\nname = "random"\n'
    )
    assert main(["run", str(suite), "--out", str(tmp_path / "out")]) == 2
    assert named in capsys.readouterr().err and not (tmp_path / "out").exists()
