"""The parity cases, read from the tables of docs/equivalence.md (the single source of truth).

A parity table has the header ``| <library> | lrdsl | run | notes |`` where <library> is one of
:data:`LIBRARIES`; each row gives the peer's call (Python syntax, in backticks), the lrdsl
string a user would write, and how to run it: ``base=`` (the optimizer's / initial lr),
``steps=`` (iterations 0..steps−1 compared), optionally ``total=`` and ``steps_per_epoch=``
(passed to lrdsl.compile)
and ``metrics="<series>"`` (a metric series reported one by one, for plateau schedulers).
A table whose second header cell is ``lrdsl (differs)`` lists strings that must *not*
reproduce the peer: the convention differences the documentation warns about.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

DOC = Path(__file__).resolve().parents[2] / "docs" / "equivalence.md"
LIBRARIES = ("torch", "keras", "optax", "hf", "timm")
RUN_KEYS = {"base", "steps", "total", "steps_per_epoch", "metrics"}
_CODE = re.compile(r"^`(.+)`$")


@dataclass(frozen=True)
class Case:
    library: str
    peer: str  # the peer's call, Python syntax
    lrdsl: str
    run: Dict = field(hash=False)
    line: int
    differs: bool = False

    @property
    def id(self) -> str:
        kind = "differs" if self.differs else "same"
        return f"{self.library}-L{self.line}-{kind}-{self.peer[:48]}"


def _cells(line: str) -> List[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _code(cell: str, where: str) -> str:
    match = _CODE.match(cell)
    if not match:
        raise ValueError(f"{where}: expected a `code` cell, got {cell!r}")
    return match.group(1)


def parse_run(text: str, where: str) -> Dict:
    """``base=0.05, steps=20`` as a dict, read with ast.literal_eval (no code is run)."""
    call = ast.parse(f"run({text})", mode="eval").body
    if call.args or not isinstance(call, ast.Call):
        raise ValueError(f"{where}: run must be keyword=value pairs, got {text!r}")
    run = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    unknown = set(run) - RUN_KEYS
    if unknown or ("steps" not in run and "metrics" not in run):
        raise ValueError(f"{where}: run keys must be {sorted(RUN_KEYS)} with steps or metrics, got {text!r}")
    return run


def load_cases(path: Path = DOC) -> List[Case]:
    """Every row of every parity table in ``path``."""
    cases, header = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            if cells[0] in LIBRARIES and cells[1] in ("lrdsl", "lrdsl (differs)"):
                header = (cells[0], cells[1] != "lrdsl")
            else:
                header = ("", False)  # some other table
            continue
        if not header[0] or set(line) <= set("|-: "):
            continue
        where = f"{path.name}:{number}"
        library, differs = header
        cases.append(
            Case(library, _code(cells[0], where), _code(cells[1], where), parse_run(cells[2], where), number, differs)
        )
    return cases
