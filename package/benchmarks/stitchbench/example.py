import optuna
import optunahub


stitchbench = optunahub.load_module("benchmarks/stitchbench")
print(stitchbench.available_instances())
problem = stitchbench.Problem("cross-arch.graph-6@mnist+cost")
study = optuna.create_study(
    directions=problem.directions, sampler=optuna.samplers.NSGAIISampler(seed=0)
)
study.set_metric_names(problem.metric_names)
study.optimize(problem, n_trials=300)
print(len(study.best_trials), "non-dominated trials")
