"""``lrdsl sweep CONFIG``: an Optuna study of a schedule template, in worker processes.

The command checks the template with the config's compile options, creates the study (or joins
it: ``load_if_exists``), starts ``--workers`` processes that run trials until the study holds
``n_trials`` of them, and meanwhile shows progress (trials done, running, pruned, failed, and the
best value with its string). Every trial stores its concrete string as the user attribute
``"schedule"``. At the end it prints the best trials and, with ``--plot``, draws the top ones.

Several machines pointing at one database (``--storage postgresql://...``) work on one study:
each counts the trials of all, so together they stop at ``n_trials`` (each worker checks before
it starts a trial; workers that start at the same moment may add one or two more).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import Counter
from typing import Any, List, Optional

from ..errors import LRDSLError
from ..text import shorten
from .check import check
from .engines import USER_ATTR, suggest
from .report import best_table, plot_best
from .sweep_config import SweepConfig, storage

POLL_SECONDS = 0.5


def run(config: SweepConfig, workers: int = 1, plot: Optional[str] = None, top: int = 5, out=None) -> int:
    """Run the sweep, printing to ``out`` (stdout); 0 when at least one trial completed, 1 otherwise."""
    import optuna

    out = out or sys.stdout
    if workers < 1:
        raise LRDSLError(f"--workers must be at least 1, got {workers}")
    check(config.template, config.variables, **config.compile)
    config.load_objective()  # a wrong entry point is reported before any worker starts
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage(config.storage), study_name=config.study, direction=config.direction, load_if_exists=True
    )
    print(f"study {config.study!r} in {config.storage}: {config.n_trials} trials, {workers} worker(s)", file=out)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=work, args=(config, index), daemon=False) for index in range(workers)]
    for process in processes:
        process.start()
    shown = ""
    try:
        while any(process.is_alive() for process in processes):
            shown = _progress(study, shown, out)
            time.sleep(POLL_SECONDS)
    finally:
        for process in processes:
            process.join()
    _progress(study, shown, out)
    print(file=out)
    trials = study.get_trials(deepcopy=False)
    print(best_table(trials, config.direction, top), file=out)
    failed = [t for t in trials if t.state.name == "FAIL"]
    if failed:
        reason = failed[0].user_attrs.get("error", "see the worker's log above")
        print(f"{len(failed)} trial(s) failed; the first (trial {failed[0].number}): {reason}", file=out)
    if plot:
        print(plot_best(trials, config, top, plot), file=out)
    return 0 if any(t.state.name == "COMPLETE" for t in trials) else 1


def work(config: SweepConfig, index: int) -> None:
    """One worker: run trials until the study holds ``n_trials`` (finished or running)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    objective = config.load_objective()
    study = optuna.create_study(
        storage=storage(config.storage),
        study_name=config.study,
        direction=config.direction,
        sampler=config.make("samplers", config.sampler, seed_offset=index),
        pruner=config.make("pruners", config.pruner),
        load_if_exists=True,
    )

    def trial_run(trial) -> float:
        schedule = suggest(config.template, trial, config.variables)
        try:
            return float(objective(schedule, trial))
        except optuna.TrialPruned:
            raise
        except Exception as error:  # recorded on the trial, which Optuna marks failed
            trial.set_user_attr("error", f"{type(error).__name__}: {shorten(str(error), 300)}")
            raise

    while len(study.get_trials(deepcopy=False)) < config.n_trials:
        study.optimize(trial_run, n_trials=1, catch=(Exception,))


def _progress(study, shown: str, out) -> str:
    """Print a progress line when a trial finished since the last one (or the best changed); return
    what it said."""
    trials = study.get_trials(deepcopy=False)
    counts = Counter(trial.state.name for trial in trials)
    done = counts["COMPLETE"] + counts["PRUNED"] + counts["FAIL"]
    news = f"{done} done ({counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed)"
    best = _best(study, trials)
    if best is not None:
        news += f"; best {best.value:.6g}: {shorten(best.user_attrs.get(USER_ATTR, '?'), 80)}"
    if news != shown:
        print(f"{news} [{counts['RUNNING']} running]", file=out, flush=True)
    return news


def _best(study, trials: List[Any]):
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if not complete:
        return None
    pick = min if study.direction.name == "MINIMIZE" else max
    return pick(complete, key=lambda t: t.value)
