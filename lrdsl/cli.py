"""The ``lrdsl`` command: plot, eval, check and explain a schedule; list the nodes.

lrdsl plot 'step(base=0.1, s=10) then exp(s=5)' --iterations 60 [--log] [--png out] [--csv out.csv]
lrdsl plot 'warmup(5%) then cosine()' 'onecycle()' --total 9000     (several schedules, one chart)
lrdsl eval 'cosine(T=100)' --at 0,50,100 --json
lrdsl check 'warmup(5%) then cosine()' --total 90ep [--strict] [--json]
lrdsl check 'warmup(5%) then cosine()' --dataset-size 50000 --batch-size 128 --epochs 90
lrdsl explain 'warmup(5%) then cosine()' --total 90ep --steps-per-epoch 100 [--json]
lrdsl explain --checkpoint state.json
lrdsl nodes [NAME] [--kind schedule|optimizer|function] [--markdown]
lrdsl convert ds_config.json
lrdsl serve [--host 127.0.0.1] [--port 8765] [--open]
lrdsl sweep CONFIG [--workers N] [--storage URL] [--n-trials N] [--plot best.png] [--top K]
lrdsl --version

Messages speak the command line's words: where the library says ``pass total=``, the command
says ``--total`` (:func:`cli_words`).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np

from . import __version__, listing, plotting
from .cliwords import cli_words, option
from .convert import from_file
from .errors import LRDSLError
from .explain import explain
from .lint import lint, restarts
from .parser import parse
from .plugins import default_registry
from .schedule import compile_schedule
from .search import check as search_check
from .search import sweep, sweep_config
from .serve import server as playground
from .templates import distributions, variable_templates
from .textplot import MARKERS, render
from .updates import steps
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


def _schedule_options(parser: argparse.ArgumentParser, expression: bool = True) -> None:
    if expression:
        parser.add_argument("expression", help="an lrdsl schedule, e.g. 'warmup(5%%) then cosine()'")
    parser.add_argument("--base", type=float, default=None, help="the base learning rate b (default 1.0)")
    parser.add_argument("--steps-per-epoch", type=float, default=None, help="iterations per epoch")
    parser.add_argument("--tokens-per-step", type=float, default=None, help="tokens per iteration (a fixed batch)")
    parser.add_argument("--samples-per-step", type=float, default=None, help="samples per iteration (a fixed batch)")
    parser.add_argument("--total", type=_total, default=None, help="training length: 10000 or 90ep")
    parser.add_argument(
        "--var", type=_variable, action="append", default=[], metavar="NAME=VALUE", help="a $variable (repeatable)"
    )


def _run_options(parser: argparse.ArgumentParser) -> None:
    """The run counted from the data (``lrdsl.steps``), instead of --total/--steps-per-epoch."""
    group = parser.add_argument_group("the run, counted from the data (instead of --total/--steps-per-epoch)")
    group.add_argument("--dataset-size", type=int, default=None, help="samples in the dataset")
    group.add_argument("--batch-size", type=int, default=None, help="samples per batch (per rank)")
    group.add_argument("--epochs", type=int, default=None, help="epochs of the run")
    group.add_argument("--accumulate", type=int, default=None, help="batches per optimizer update (default 1)")
    group.add_argument("--world-size", type=int, default=None, help="ranks (default 1)")
    group.add_argument("--drop-last", action="store_true", help="the DataLoader drops a last partial batch")


RUN_OPTIONS = ("dataset_size", "batch_size", "epochs", "accumulate", "world_size", "drop_last")


def _counted_run(args) -> dict:
    """``steps_per_epoch`` and ``total`` from --dataset-size/--batch-size/--epochs (``lrdsl.steps``)."""
    if not hasattr(args, "dataset_size"):  # a command without the run options (plot: --epochs is its range)
        return {}
    given = [name for name in RUN_OPTIONS if getattr(args, name) not in (None, False)]
    if not given:
        return {}
    if args.total is not None or args.steps_per_epoch is not None:
        raise LRDSLError(
            "give the run either as --total/--steps-per-epoch or as --dataset-size --batch-size --epochs, not both"
        )
    if args.dataset_size is None or args.batch_size is None:
        raise LRDSLError(
            f"{option(given[0])} describes the run by its data: give --dataset-size and --batch-size "
            "(and --epochs for the run's length)"
        )
    counted = {name: getattr(args, name) for name in RUN_OPTIONS if getattr(args, name) not in (None, False)}
    return steps(**counted)


def _compile(args, expression: str):
    run = _counted_run(args)
    return compile_schedule(
        expression,
        base=1.0 if args.base is None else args.base,
        steps_per_epoch=run.get("steps_per_epoch", args.steps_per_epoch),
        total=run.get("total", args.total),
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


def _run_length(sched, unit: str):
    """The schedule's whole run counted in ``unit``, or None without a total."""
    if not sched.clock.total:
        return None
    total = sched.clock.convert(*sched.clock.total, "total")
    ratio = sched.clock.ratio(unit)
    return total * ratio[1] / ratio[0] if ratio is not None else None


def _plot_points(length: float, unit: str) -> np.ndarray:
    if unit != "it":
        return np.linspace(0, length, 401)
    if length <= MAX_PLOT_POINTS:
        return np.arange(int(length), dtype=float)
    return np.unique(np.linspace(0, int(length) - 1, MAX_PLOT_POINTS).round())  # a sample of a long run


def _marks(sched, unit: str, points, values):
    """``(x, label, kind)`` of the phase boundaries and restarts inside the drawn range."""
    marks = [
        (start, f"phase {n}", "phase")
        for n, start in enumerate(sched.phase_starts(unit), start=1)
        if 0 < start <= points[-1]
    ]
    starts = {start for start, _, _ in marks}
    marks += [(x, "restart", "restart") for x in restarts(points, values) if x not in starts]
    return sorted(marks)


def _second_counter(scheds, unit: str):
    """``(unit, factor)`` of the counter drawn above: epochs over an iteration plot (iterations over
    an epoch plot), ``factor`` of them per unit drawn, where every schedule converts alike; else None."""
    other = {"it": "ep", "ep": "it"}.get(unit)
    factors = set()
    for sched in scheds:
        mine, theirs = sched.clock.ratio(unit), sched.clock.ratio(other) if other else None
        if mine is None or theirs is None or sched.clock.steps_per_epoch is None:
            return None
        factors.add((mine[0] / mine[1]) / (theirs[0] / theirs[1]))
    return (other, factors.pop()) if len(factors) == 1 else None


def cmd_plot(args) -> None:
    scheds = [_compile(args, text) for text in args.expressions]
    unit = _plot_counter(args, scheds[0])
    option, keyword, name = COUNTERS[unit]
    length = getattr(args, keyword)
    if length is None:  # the whole run when a total is known, else 100
        lengths = [n for n in (_run_length(sched, unit) for sched in scheds) if n is not None]
        length = max(lengths) if lengths else 100
    if not length >= 1:
        raise LRDSLError(f"{option} must be at least 1")
    points = _plot_points(length, unit)
    values = [_by(sched, unit, points) for sched in scheds]
    if args.log and not any((v > 0).any() for v in values):
        raise LRDSLError("--log needs a value above 0; every value drawn is 0")
    several = len(scheds) > 1
    labels = [f" ({MARKERS[k % len(MARKERS)]})" if several else "" for k in range(len(scheds))]
    marks = [_marks(sched, unit, points, v) for sched, v in zip(scheds, values)]
    every_mark = sorted({x for ms in marks for x, _, _ in ms})
    second = _second_counter(scheds, unit)
    width = shutil.get_terminal_size().columns
    if several:
        for k, sched in enumerate(scheds):
            print(f"{MARKERS[k % len(MARKERS)]} {sched.expression}")
    else:
        print(scheds[0].expression)
    chart_second = None
    if second is not None:
        chart_second = (float(points[0]) * second[1], float(points[-1]) * second[1], UNIT_WORDS[second[0]])
    print(
        render(
            points,
            values,
            width=max(10, width - 14),
            x_unit=UNIT_WORDS[unit],
            log=args.log,
            marks=every_mark,
            second=chart_second,
        )
    )
    print()
    _print_keys(scheds, unit, name, points, marks, every_mark, labels)
    if args.csv:
        print(f"wrote {_write_csv(args.csv, points, scheds, values, name, second)}")
    for fmt in ("png", "svg"):
        path = getattr(args, fmt)
        if path:
            series = [plotting.Series(sched.expression, v, ms) for sched, v, ms in zip(scheds, values, marks)]
            axis = None if second is None else plotting.SecondAxis(UNIT_WORDS[second[0]], second[1])
            written = plotting.save(path, fmt, points, series, UNIT_WORDS[unit], log=args.log, second=axis)
            print(f"wrote {written}")


def _print_keys(scheds, unit, name, points, marks, every_mark, labels) -> None:
    """The key values: start, each phase start and restart ([n]: its number on the chart's axis), end."""
    for sched, ms, label in zip(scheds, marks, labels):
        keys = [(0.0, "start", "")]
        keys += [(x, f"{text} starts" if kind == "phase" else text, x) for x, text, kind in ms]
        keys.append((float(points[-1]), "end", ""))
        for where, what, mark in keys:
            number = every_mark.index(mark) + 1 if mark != "" else 0
            shown = f"[{number}] " if 0 < number <= 9 else ""
            print(f"  {name} {where:>8g}  {_at(sched, unit, where):<14.6g} {shown}{what}{label}")


def _write_csv(path: str, points, scheds, values, name: str, second) -> Path:
    """The numbers drawn, one row per point: the counter (and the second one), then each schedule."""
    target = Path(path)
    header = [name] + ([COUNTERS[second[0]][2]] if second else []) + [s.expression for s in scheds]
    try:
        with open(target, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for k, x in enumerate(points):
                row = [repr(float(x))] + ([repr(float(x) * second[1])] if second else [])
                writer.writerow(row + [repr(float(v[k])) for v in values])
    except OSError as error:
        raise LRDSLError(f"--csv {path}: cannot write the file ({error.strerror}); give a writable path") from None
    return target


def _points(text: str):
    items = text.split(",")
    try:
        points = [float(p) for p in items]
    except ValueError:
        points = []
    if not points or not all(math.isfinite(p) for p in points):
        empty = " (an empty item between commas)" if any(not item.strip() for item in items) else ""
        raise LRDSLError(f"--at expects finite numbers separated by commas, e.g. 0,10,100; got {text!r}{empty}")
    return points


def cmd_eval(args) -> None:
    sched = _compile(args, args.expression)
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
    sched = _compile(args, args.expression)
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


def cmd_explain(args) -> None:
    if args.checkpoint is None and args.expression is None:
        raise LRDSLError("lrdsl explain: give a schedule (TEXT) or --checkpoint FILE")
    if args.checkpoint is not None:
        given = [option(n) for n in ("base", "total", "steps_per_epoch", "tokens_per_step", "samples_per_step")]
        given = [o for o in given if getattr(args, o[2:].replace("-", "_")) is not None]
        given += ["--var"] * bool(args.var) + [option(n) for n in RUN_OPTIONS if getattr(args, n) not in (None, False)]
        if args.expression is not None or given:
            raise LRDSLError(
                "lrdsl explain --checkpoint: the checkpoint holds its schedule and options; give it alone "
                f"(got {', '.join(['TEXT'] * (args.expression is not None) + given)})"
            )
        explanation = explain(state=_read_checkpoint(args.checkpoint))
    else:
        explanation = explain(_compile(args, args.expression))
    print(json.dumps(explanation.as_dict()) if args.json else explanation)


def _read_checkpoint(path: str):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise LRDSLError(f"--checkpoint {path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise LRDSLError(
            f"--checkpoint {path}: not JSON ({error}); save it with json.dump(sched.state_dict(), file)"
        ) from None


def _check_template(args, variables) -> int:
    given = {"base": args.base, "steps_per_epoch": args.steps_per_epoch, "total": args.total}
    given.update(tokens_per_step=args.tokens_per_step, samples_per_step=args.samples_per_step)
    found, compiled = search_check(args.expression, variables, **{k: v for k, v in given.items() if v is not None})
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
        print(listing.node_table(registry, args.kind, width=shutil.get_terminal_size().columns))


def cmd_convert(args) -> None:
    """Print the lrdsl string of a peer's JSON scheduler config (DeepSpeed, Keras, HF)."""
    print(from_file(args.file))


def cmd_serve(args) -> None:
    playground.serve(args.host, args.port, open_browser=args.open)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lrdsl", description="Learning-rate schedules as strings.")
    parser.add_argument("--version", action="version", version=f"lrdsl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    plot = commands.add_parser("plot", help="draw schedules in the terminal (and as PNG/SVG), print key values")
    plot.add_argument(
        "expressions", nargs="+", metavar="expression", help="one or more lrdsl schedules, drawn in one chart"
    )
    _schedule_options(plot, expression=False)
    plot.add_argument("--iterations", type=int, default=None, help="draw by iteration, over this many")
    plot.add_argument("--epochs", type=float, default=None, help="draw by epoch, over this many")
    plot.add_argument("--tokens", type=float, default=None, help="draw by tokens seen, up to this many")
    plot.add_argument("--samples", type=float, default=None, help="draw by samples seen, up to this many")
    plot.add_argument("--log", action="store_true", help="a logarithmic learning-rate axis")
    plot.add_argument("--png", default=None, help="also save a PNG there (.png added; needs matplotlib)")
    plot.add_argument("--svg", default=None, help="also save an SVG there (.svg added; needs matplotlib)")
    plot.add_argument("--csv", default=None, help="also write the numbers drawn to this CSV file")
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
    _run_options(check)
    check.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    check.add_argument("--json", action="store_true", help="machine-readable findings")
    check.set_defaults(run=cmd_check)

    explained = commands.add_parser(
        "explain", help="the schedule in plain words: its phases, values, restarts, peer equivalents, history"
    )
    explained.add_argument("expression", nargs="?", help="an lrdsl schedule (or give --checkpoint)")
    _schedule_options(explained, expression=False)
    _run_options(explained)
    explained.add_argument(
        "--checkpoint",
        default=None,
        metavar="FILE",
        help="a Schedule.state_dict() saved as JSON: its schedule, position and amendments",
    )
    explained.add_argument("--json", action="store_true", help="machine-readable facts")
    explained.set_defaults(run=cmd_explain)

    nodes = commands.add_parser("nodes", help="list every node, or show one node's documentation")
    nodes.add_argument("name", nargs="?", help="a node name")
    nodes.add_argument("--kind", choices=("schedule", "optimizer", "function"), help="list only nodes of this kind")
    nodes.add_argument(
        "--markdown",
        action="store_true",
        help="a GitHub markdown table of the built-in nodes (plugins left out), as in docs/language.md",
    )
    nodes.set_defaults(run=cmd_nodes)

    convert = commands.add_parser(
        "convert", help="print the lrdsl string of a DeepSpeed, Keras or HF scheduler config (a JSON file)"
    )
    convert.add_argument(
        "file", help="a DeepSpeed scheduler block or config, a serialized Keras schedule, or HF arguments"
    )
    convert.set_defaults(run=cmd_convert)
    serve = commands.add_parser("serve", help="a local web playground: type a schedule and see its curve")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="the port (default 8765; 0: any free port)")
    serve.add_argument("--open", action="store_true", help="open the page in the web browser")
    serve.set_defaults(run=cmd_serve)
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
        print(f"error: {cli_words(str(error), args.command)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
