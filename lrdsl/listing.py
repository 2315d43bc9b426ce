"""Listings of the registered nodes, read from the registry (``lrdsl nodes``, ``lrdsl nodes NAME``).

- :func:`node_rows`: one dict per node (for ``--json`` and tests);
- :func:`node_table`: those rows as an aligned text table;
- :func:`node_doc`: one node's full documentation: signature, source, aliases, natural length,
  its docstring (formula) and every parameter with its type, default and allowed range;
- :func:`node_markdown`: the built-in nodes of one kind as a GitHub markdown table, as
  ``docs/language.md`` shows them (``lrdsl nodes --markdown --kind schedule``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from .errors import UnknownNameError, did_you_mean
from .plugins import build_registry, default_registry
from .registry import KINDS, Registry, withdrawn_reason
from .specs import BASE, REQUIRED, FunctionSpec, NodeSpec, OptimizerSpec, Param, ScheduleSpec

COLUMNS = ("name", "kind", "source", "signature", "summary")


def _registry(registry: Optional[Registry]) -> Registry:
    return registry if registry is not None else default_registry()


def node_rows(registry: Optional[Registry] = None, kind: Optional[str] = None) -> List[Dict[str, Any]]:
    """One dict per node (``name, kind, source, signature, summary, aliases``), sorted by kind then name.

    ``kind`` (``"schedule"``, ``"optimizer"`` or ``"function"``) keeps only that kind.
    """
    if kind is not None and kind not in KINDS:
        raise UnknownNameError(f"unknown node kind {kind!r}{did_you_mean(kind, KINDS)}; kinds: {', '.join(KINDS)}")
    specs = [s for s in _registry(registry) if kind is None or s.kind == kind]
    specs.sort(key=lambda s: (KINDS.index(s.kind), s.name))
    return [
        {
            "name": s.name,
            "kind": s.kind,
            "source": s.source,
            "signature": s.signature(),
            "summary": s.summary,
            "aliases": list(s.aliases),
        }
        for s in specs
    ]


def node_table(registry: Optional[Registry] = None, kind: Optional[str] = None, width: Optional[int] = None) -> str:
    """Every node (or every node of ``kind``) as a text table: name, kind, source, signature, summary.

    With ``width`` (the terminal's columns), a row longer than that is cut and ends with ``…``
    (``lrdsl nodes NAME`` shows a node in full). Names two plugins both provide are listed after
    the table as disabled, with the fix.
    """
    registry = _registry(registry)
    rows = node_rows(registry, kind)
    cells = [[c.upper() for c in COLUMNS]]
    for row in rows:
        name = row["name"] + (f" ({', '.join(row['aliases'])})" if row["aliases"] else "")
        cells.append([name] + [str(row[c]) for c in COLUMNS[1:]])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1] for line in cells]
    if width is not None:
        lines = [_fitted(line, width) for line in lines]
    withdrawn = registry.withdrawn()
    if withdrawn:
        lines.append("")
        lines.append("disabled by a name clash:")
        lines.extend(f"  {withdrawn_reason(name, sources)}" for name, sources in sorted(withdrawn.items()))
    return "\n".join(lines)


def _fitted(line: str, width: int) -> str:
    """``line`` cut to ``width`` characters, ending with ``…`` where cut."""
    line = line.rstrip()
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def node_doc(node: Union[str, NodeSpec], registry: Optional[Registry] = None) -> str:
    """The full documentation of ``node``: a name (or alias) looked up in the registry, or a spec.

    Raises :class:`~lrdsl.errors.UnknownNameError` (with the closest names) if there is no such
    node, and :class:`~lrdsl.errors.PluginError` if a name clash between plugins disabled it.
    """
    spec = node if isinstance(node, NodeSpec) else _registry(registry).get(node)
    name = spec.name if isinstance(node, NodeSpec) else node
    lines = [spec.signature(), ""]
    if name != spec.name:
        lines.append(f"{name!r} is an alias of {spec.name!r}.")
    lines.append(f"kind: {spec.kind}")
    lines.append(f"source: {spec.source or 'unregistered'}")
    lines.append(f"aliases: {', '.join(spec.aliases) if spec.aliases else 'none'}")
    if isinstance(spec, ScheduleSpec):
        lines.append(f"natural length: {f'its parameter {spec.horizon}' if spec.horizon else 'none'}")
    lines += ["", spec.doc.strip(), "", "parameters:"]
    lines += [_param_line(param, spec) for param in spec.params] or ["  (none)"]
    if isinstance(spec, OptimizerSpec) and spec.requires:
        lines += ["", "constraints:"] + [f"  {check.text}" for check in spec.requires]
    return "\n".join(lines)


def _schedulable(param: Param, spec: NodeSpec) -> bool:
    """Whether an optimizer hyperparameter may be written as a schedule (float ones not declared fixed)."""
    return isinstance(spec, OptimizerSpec) and spec.may_be_scheduled(param)


def _param_line(param: Param, spec: NodeSpec) -> str:
    kind = param.kind.text
    if isinstance(spec, FunctionSpec) and spec.variadic:
        kind = f"one or more of {kind}"
    if _schedulable(param, spec):
        kind += " (each may be a schedule)" if param.kind.name == "numbers_tuple" else " or a schedule"
    allowed = f"; allowed: {param.check.text}" if param.check is not None else ""
    return f"  {param.name}: {kind}; {_default_text(param, spec)}{allowed}"


def _default_text(param: Param, spec: NodeSpec) -> str:
    if param.default is BASE:
        return "default: b, the incoming base"
    if param.default is REQUIRED:
        horizon = isinstance(spec, ScheduleSpec) and param.name == spec.horizon
        return "default: the length of its phase" if horizon else "required"
    return f"default: {param.default_text()}"


# -- markdown ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text made safe for one markdown table cell: one line, ``|`` escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _extra_column(kind: Optional[str]):
    """(header, spec -> text) of the kind-specific column, or None."""
    if kind == "schedule":
        return "natural length", lambda s: f"`{s.horizon}`" if s.horizon else "none"
    if kind == "optimizer":
        return "may be a schedule", lambda s: ", ".join(f"`{p.name}`" for p in s.params if _schedulable(p, s))
    if kind is None:
        return "kind", lambda s: s.kind
    return None


def node_markdown(kind: Optional[str] = None, registry: Optional[Registry] = None) -> str:
    """The built-in nodes (or those of ``registry``) as a GitHub markdown table, by kind then name.

    Columns: the node with its aliases, its signature (defaults; ``b`` is the incoming base),
    a kind-specific column (schedules: the parameter giving the natural length; optimizers: the
    hyperparameters that may be schedules; no ``kind``: the kind) and the summary line.
    Plugins are left out unless ``registry`` holds them, so the table is the same everywhere.
    """
    if registry is None:
        registry = build_registry(entry_points=False)
    extra = _extra_column(kind)
    headers = ["node (aliases)", "signature"] + ([extra[0]] if extra else []) + ["summary"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in node_rows(registry, kind):
        spec = registry.get(row["name"])
        name = f"`{spec.name}`" + "".join(f" (`{alias}`)" for alias in spec.aliases)
        cells = [name, f"`{spec.signature()}`"] + ([extra[1](spec)] if extra else []) + [spec.summary]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)
