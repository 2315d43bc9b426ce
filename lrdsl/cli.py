"""The ``lrdsl`` command: plot, eval and check a schedule; list the nodes.

lrdsl plot 'step(base=0.1, s=10) then exp(s=5)' --iterations 60
lrdsl eval 'cosine(T=100)' --at 0,50,100 --json
lrdsl check 'warmup(5%) then cosine()' --total 90ep [--strict] [--json]
lrdsl nodes [NAME] [--kind schedule|optimizer|function] [--markdown]
lrdsl sweep CONFIG [--workers N] [--storage URL] [--n-trials N] [--plot best.png] [--top K]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys

import numpy as np

from . import listing
from .errors import LRDSLError
from .lint import lint
from .parser import parse
from .plugins import default_registry
from .schedule import compile_schedule
from .search import check as search_check
from .search import sweep, sweep_config
from .templates import distributions, variable_templates
from .textplot import render
from .vocabulary import UNIT_WORDS

MAX_PLOT_POINTS = 100_000  # iterations evaluated for a plot; a longer run is sampled


def _variable(text: str):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    try:
        return name, float(value)
    except ValueError:
        return name, value  # a string variable: a duration such as 5ep, or an expression


def _total(text: str):
    try:
        return float(text)
    except ValueError:
        return text  # a duration such as 90ep


def _schedule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", help="an lrdsl schedule, e.g. 'warmup(5%%) then cosine()'")
    parser.add_argument("--base", type=float, default=1.0, help="the base learning rate b (default 1.0)")
    parser.add_argument("--steps-per-epoch", type=float, default=None, help="iterations per epoch")
    parser.add_argument("--tokens-per-step", type=float, default=None, help="tokens per iteration (a fixed batch)")
    parser.add_argument("--samples-per-step", type=float, default=None, help="samples per iteration (a fixed batch)")
    parser.add_argument("--total", type=_total, default=None, help="training length: 10000 or 90ep")
    parser.add_argument(
        "--var", type=_variable, action="append", default=[], metavar="NAME=VALUE", help="a $variable (repeatable)"
    )


def _compile(args):
    return compile_schedule(
        args.expression,
        base=args.base,
        steps_per_epoch=args.steps_per_epoch,
        total=args.total,
        variables=dict(args.var),
        tokens_per_step=args.tokens_per_step,
        samples_per_step=args.samples_per_step,
    )


# the counters a schedule can be read by: unit -> (plot option, keyword of sched(...) and values(...), name)
COUNTERS = {
    "it": ("--iterations", "iterations", "iteration"),
    "ep": ("--epochs", "epochs", "epoch"),
    "tok": ("--tokens", "tokens", "tokens"),
    "sp": ("--samples", "samples", "samples"),
}


def _plot_counter(args, sched) -> str:
    """The counter to plot by: the one option given, else the schedule's clock."""
    given = [unit for unit, (option, keyword, _) in COUNTERS.items() if getattr(args, keyword) is not None]
    if len(given) > 1:
        raise LRDSLError(f"give one of {', '.join(COUNTERS[u][0] for u in given)}, not several")
    return given[0] if given else sched.clock.unit


def _by(sched, unit: str, points):
    """``sched`` read by the counter ``unit`` at ``points`` (an array)."""
    return sched.values(points) if unit == "it" else sched.values(**{COUNTERS[unit][1]: points})


def _at(sched, unit: str, point: float) -> float:
    return sched(point) if unit == "it" else sched(**{COUNTERS[unit][1] if unit != "ep" else "epoch": point})


def cmd_plot(args) -> None:
    sched = _compile(args)
    unit = _plot_counter(args, sched)
    option, keyword, name = COUNTERS[unit]
    length = getattr(args, keyword)
    if length is None:  # the whole run when total is known, else 100
        total = sched.clock.convert(*sched.clock.total, "total") if sched.clock.total else None
        ratio = sched.clock.ratio(unit)
        length = total * ratio[1] / ratio[0] if total is not None and ratio is not None else 100
    if not length >= 1:
        raise LRDSLError(f"{option} must be at least 1")
    if unit != "it":
        points = np.linspace(0, length, 401)
    elif length <= MAX_PLOT_POINTS:
        points = np.arange(int(length), dtype=float)
    else:  # a long run is drawn from a sample of its iterations
        points = np.unique(np.linspace(0, int(length) - 1, MAX_PLOT_POINTS).round())
    values = _by(sched, unit, points)
    print(sched.expression)
    print(render(points, values, x_unit=UNIT_WORDS[unit]))
    print()
    keys = [(0.0, "start")]
    keys += [
        (start, f"phase {n} starts")
        for n, start in enumerate(sched.phase_starts(unit), start=1)
        if 0 < start < points[-1]
    ]
    keys.append((float(points[-1]), "end"))
    for where, what in keys:
        print(f"  {name} {where:>8g}  {_at(sched, unit, where):<14.6g} {what}")
    if args.png:
        _save_png(args.png, points, values, sched.expression, name)


def _save_png(path: str, points, values, title: str, name: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LRDSLError("--png needs matplotlib: pip install 'lrdsl[plot]'") from None
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.plot(points, values)
    axes.set_xlabel(name)
    axes.set_ylabel("learning rate")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    try:  # written and closed here, so that a full disk or a bad path is an error, not "wrote"
        with open(path, "wb") as handle:
            handle.write(image.getvalue())
    except OSError as error:
        raise LRDSLError(f"--png {path}: cannot write the image ({error.strerror}); give a writable path") from None
    print(f"wrote {path}")


def _points(text: str):
    try:
        points = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        points = []
    if not points or not all(math.isfinite(p) for p in points):
        raise LRDSLError(f"--at expects finite numbers separated by commas, e.g. 0,10,100; got {text!r}")
    return points


def cmd_eval(args) -> None:
    sched = _compile(args)
    points = _points(args.at)
    unit = args.by
    name = COUNTERS[unit][2]
    values = [_at(sched, unit, p) for p in points]
    if args.json:
        print(
            json.dumps(
                {
                    "expression": sched.expression,
                    "counter": name,
                    "points": [{name: p, "value": v} for p, v in zip(points, values)],
                }
            )
        )
        return
    for point, value in zip(points, values):
        print(f"{name} {point:g}: {value!r}")


def cmd_check(args) -> int:
    """Compile, print the canonical form, and lint against the run: exit 0 when clean (or only
    warnings without --strict), 1 on warnings with --strict, 2 on errors. A search template is
    checked by lrdsl.search.check and its dimensions listed."""
    variables = dict(args.var)
    if distributions(parse(args.expression)) or any(True for _ in variable_templates(variables)):
        return _check_template(args, variables)
    sched = _compile(args)
    findings = lint(sched)
    errors = any(f.level == "error" for f in findings)
    status = 2 if errors else 1 if findings and args.strict else 0
    starts = sched.phase_starts(sched.clock.unit)
    unit = UNIT_WORDS[sched.clock.unit]
    if args.json:
        report = {
            "expression": sched.expression,
            "clock": unit,
            "phase_starts": starts,
            "total": sched.options.total,
            "steps_per_epoch": sched.options.steps_per_epoch,
            "status": "errors" if errors else "warnings" if findings else "ok",
            "findings": [finding.as_dict() for finding in findings],
        }
        print(json.dumps(report))
        return status
    print(sched.expression)
    if not errors:
        print(f"ok: {len(starts)} phase(s), counted in {unit}; phases start at {', '.join(f'{s:g}' for s in starts)}")
    for finding in findings:
        print(finding)
    return status


def _check_template(args, variables) -> int:
    options = {"base": args.base, "steps_per_epoch": args.steps_per_epoch, "total": args.total}
    options.update(tokens_per_step=args.tokens_per_step, samples_per_step=args.samples_per_step)
    found, compiled = search_check(args.expression, variables, **options)
    if args.json:
        dims = [
            {
                "name": d.name,
                "kind": d.kind,
                "low": d.low,
                "high": d.high,
                "step": d.step,
                "unit": d.unit,
                "options": list(d.options),
                "parent": list(d.parent) if d.parent else None,
            }
            for d in found
        ]
        print(
            json.dumps(
                {
                    "expression": found.template,
                    "template": True,
                    "status": "ok",
                    "dimensions": dims,
                    "compiled": len(compiled),
                }
            )
        )
        return 0
    print(found.template)
    print(f"ok: a search template of {len(found)} dimension(s); {len(compiled)} of its schedules compile")
    for dim in found:
        print(f"  {dim.name:<24} {dim.where.rsplit(' [', 1)[0]}")
    return 0


def cmd_sweep(args) -> int:
    """Run an Optuna study of the config's template (lrdsl.search.sweep)."""
    config = sweep_config.load(args.config).with_overrides(storage=args.storage, n_trials=args.n_trials)
    return sweep.run(config, workers=args.workers, plot=args.plot, top=args.top)


def cmd_nodes(args) -> None:
    if args.name and (args.kind or args.markdown):
        raise LRDSLError("lrdsl nodes: give a node NAME, or --kind/--markdown for a table, not both")
    if args.markdown:  # built-in nodes only, so the table is the same on every machine
        print(listing.node_markdown(args.kind))
        return
    registry = default_registry()
    if args.name:
        print(listing.node_doc(registry.get(args.name)))
    else:
        print(listing.node_table(registry, args.kind))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lrdsl", description="Learning-rate schedules as strings.")
    commands = parser.add_subparsers(dest="command", required=True)

    plot = commands.add_parser("plot", help="draw a schedule in the terminal and print its key values")
    _schedule_options(plot)
    plot.add_argument("--iterations", type=int, default=None, help="draw by iteration, over this many")
    plot.add_argument("--epochs", type=float, default=None, help="draw by epoch, over this many")
    plot.add_argument("--tokens", type=float, default=None, help="draw by tokens seen, up to this many")
    plot.add_argument("--samples", type=float, default=None, help="draw by samples seen, up to this many")
    plot.add_argument("--png", default=None, help="also save a PNG there (needs matplotlib)")
    plot.set_defaults(run=cmd_plot)

    evaluate = commands.add_parser("eval", help="print the schedule's values at given points")
    _schedule_options(evaluate)
    evaluate.add_argument("--at", required=True, help="comma-separated points, e.g. 0,10,100")
    evaluate.add_argument(
        "--epoch", dest="by", action="store_const", const="ep", default="it", help="the points are epochs"
    )
    evaluate.add_argument("--tokens", dest="by", action="store_const", const="tok", help="the points are tokens seen")
    evaluate.add_argument("--samples", dest="by", action="store_const", const="sp", help="the points are samples seen")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.set_defaults(run=cmd_eval)

    check = commands.add_parser(
        "check", help="validate, print the canonical form and lint the schedule against the run"
    )
    _schedule_options(check)
    check.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    check.add_argument("--json", action="store_true", help="machine-readable findings")
    check.set_defaults(run=cmd_check)

    nodes = commands.add_parser("nodes", help="list every node, or show one node's documentation")
    nodes.add_argument("name", nargs="?", help="a node name")
    nodes.add_argument("--kind", choices=("schedule", "optimizer", "function"), help="list only nodes of this kind")
    nodes.add_argument(
        "--markdown",
        action="store_true",
        help="a GitHub markdown table of the built-in nodes (plugins left out), as in docs/language.md",
    )
    nodes.set_defaults(run=cmd_nodes)

    search = commands.add_parser("sweep", help="search a schedule template on Optuna, from a YAML/TOML config")
    search.add_argument("config", help="the sweep config (template, objective, n_trials, storage, ...)")
    search.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    search.add_argument("--storage", default=None, help="the study's database URL, overriding the config's")
    search.add_argument("--n-trials", type=int, default=None, help="trials of the whole study, overriding the config")
    search.add_argument("--plot", default=None, metavar="PNG", help="draw the best schedules into this PNG")
    search.add_argument("--top", type=int, default=5, help="best trials in the table and the plot (default 5)")
    search.set_defaults(run=cmd_sweep)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except LRDSLError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
