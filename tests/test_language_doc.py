"""docs/language.md cannot drift from the code.

- its generated tables are what ``lrdsl nodes --markdown`` prints now (docs/generate.py);
- its ```` ```lrdsl ```` blocks compile with the options on their opening line, or fail as stated;
- its ```` ```python ```` blocks run as doctests;
- its inline expressions parse and name real nodes and parameters;
- its token definitions are those of grammar/lrdsl.lark, and its section numbers are stable.
"""

import contextlib
import doctest
import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

import lrdsl
from lrdsl import ast, errors, recurrence
from lrdsl.optim import parse_optimizer
from lrdsl.plugins import build_registry

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "language.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
REGISTRY = build_registry(entry_points=False)

SECTIONS = [
    "Overview",
    "Lexical elements",
    "Grammar and precedence",
    "Time",
    "The incoming base",
    "Phases: then and for",
    "Arithmetic and functions",
    "Identifiers and variables",
    "Values that must not happen, and exactness",
    "Schedule nodes",
    "Optimizer nodes",
    "Errors",
    "The Python surface",
]

FENCE = re.compile(r"^ *```(\w+)([^\n]*)\n(.*?)^ *```$", re.S | re.M)  # fenced blocks, list items' too


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks(language: str):
    """``(line, options, body)`` of every fenced block of ``language``."""
    return [
        (DOC.count("\n", 0, m.start()) + 1, m[2].split(), textwrap.dedent(m[3]))
        for m in FENCE.finditer(DOC)
        if m[1] == language
    ]


def test_the_sections_are_numbered_as_code_cites_them():
    assert re.findall(r"^## (\d+)\. (.+)$", DOC, flags=re.M) == [(str(n), t) for n, t in enumerate(SECTIONS, 1)]


def test_the_generated_tables_are_up_to_date():
    generator = _generator()
    commands = [m["command"] for m in generator.BLOCK.finditer(DOC)]
    assert commands == [f"lrdsl nodes --markdown --kind {kind}" for kind in ("function", "schedule", "optimizer")]
    _, stale = generator.regenerate(DOC)
    assert not stale, f"docs/language.md: the tables of {stale} are out of date; run: python docs/generate.py"


def _options(words):
    """The compile options of an ```lrdsl block's opening line, and the error it must raise (or None)."""
    options, variables, error = {}, {}, None
    for word in words:
        key, _, value = word.partition("=")
        with contextlib.suppress(ValueError):
            value = float(value)
        if key == "error":
            error = getattr(errors, value)
        elif key.startswith("$"):
            variables[key[1:]] = value
        else:
            options[key] = value
    return {**options, "variables": variables}, error


def _compile(text: str, options: dict):
    tree = lrdsl.parse(text)
    if isinstance(tree, ast.Call) and REGISTRY.find(tree.name) and REGISTRY.find(tree.name).kind == "optimizer":
        return parse_optimizer(tree, **options)
    return lrdsl.compile(tree, **options)


@pytest.mark.parametrize("line, words, body", [pytest.param(*b, id=f"line {b[0]}") for b in _blocks("lrdsl")])
def test_every_lrdsl_block_compiles_or_fails_as_stated(line, words, body):
    options, error = _options(words)
    if error is None:
        _compile(body, options)
    else:
        with pytest.raises(error):
            _compile(body, options)
    tree = lrdsl.parse(body)
    assert lrdsl.parse(str(tree)) == tree


def test_the_python_examples_run():
    blocks = _blocks("python")
    assert blocks
    parser, runner, namespace = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS), {}
    for line, _, body in blocks:
        test = parser.get_doctest(body, namespace, f"docs/language.md line {line}", str(DOC_PATH), line)
        runner.run(test, clear_globs=False)
        namespace = test.globs  # the next block sees this one's names (a DocTest copies its globals)
    assert runner.summarize(verbose=False).failed == 0, "a python example in docs/language.md fails (see above)"


# A call of a registered node, not preceded by a dot or a name character (so not ``opt.step(``).
_NODE_CALL = re.compile(r"(?<![\w.])(" + "|".join(sorted(REGISTRY.names(), key=len, reverse=True)) + r")\(")


def _inline_expressions():
    """Inline code spans outside fenced blocks and generated tables that call a node or contain ``then``
    (signatures elided with ``...`` or ``…`` left out)."""
    prose = FENCE.sub("", DOC)
    prose = "\n".join(line for line in prose.splitlines() if not line.startswith("| `"))  # generated rows
    spans = {span.strip('"') for span in re.findall(r"`([^`\n]+)`", prose)}  # "cosine(T=10)": a string variable
    return sorted(s for s in spans if (_NODE_CALL.search(s) or " then " in s) and "..." not in s and "…" not in s)


def _calls(tree):
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            yield node
        stack.extend(node.children())


def test_inline_expressions_parse_and_name_real_nodes_and_parameters():
    spans = _inline_expressions()
    assert len(spans) > 30 and "warmup(5%) then cosine(end=1e-5)" in spans
    for span in spans:
        try:
            tree = lrdsl.parse(span)
        except lrdsl.LRDSLError as error:
            if span == "cosine(for=1)":  # the doc's own example of a syntax error
                continue
            raise AssertionError(f"docs/language.md: `{span}` does not parse: {error}") from None
        for call in _calls(tree):
            forms = {"where": (), "recur": recurrence.PARAMS}  # the compiler's own forms (§7.3, §7.4)
            names = forms[call.name] if call.name in forms else [p.name for p in REGISTRY.get(call.name).params]
            unknown = [key for key, _ in call.kwargs if key not in names]
            assert not unknown, f"docs/language.md: `{span}`: {call.name} has no parameter {unknown}"


def test_the_token_definitions_are_the_grammar_files():
    grammar = (ROOT / "grammar" / "lrdsl.lark").read_text(encoding="utf-8")
    (tokens,) = [body for _, _, body in _blocks("text") if body.startswith("DURATION")]
    for definition in tokens.splitlines():
        assert definition in grammar.splitlines(), f"docs/language.md §3.1 token {definition!r} is not in the grammar"
    assert len(tokens.splitlines()) == len(re.findall(r"^[A-Z]+(\.\d)?:", grammar, flags=re.M))


def test_the_markdown_listing_has_every_built_in_node_and_escapes_pipes(capsys):
    from lrdsl.cli import main

    assert main(["nodes", "--markdown", "--kind", "schedule"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "| node (aliases) | signature | natural length | summary |"
    names = [row.split("`")[1] for row in rows[2:]]
    assert names == sorted(s.name for s in REGISTRY if s.kind == "schedule")
    assert "| `exp` (`exponential`) | `exp(s, rate=0.1, staircase=false, base=b)` | `s` |" in "\n".join(rows)
    assert main(["nodes", "--markdown", "--kind", "function"]) == 0
    assert "abs(x) = \\|x\\|." in capsys.readouterr().out
    assert main(["nodes", "cosine", "--markdown"]) == 2  # a NAME and a table: refused, with the reason
    assert "not both" in capsys.readouterr().err


def test_the_markdown_listing_leaves_plugins_out_unless_given_a_registry():
    from lrdsl.authoring import BASE, Duration, positive, schedule_node
    from lrdsl.listing import node_markdown

    @schedule_node(horizon="T", checks={"T": positive})
    def ramp(xp, t, T: Duration, base: float = BASE):
        """Ramp | down: base · (1 − min(t, T)/T)."""
        return base * (1 - xp.minimum(t, T) / T)

    class Plugin:
        @lrdsl.hookimpl
        def lrdsl_nodes(self):
            return [ramp]

    registry = build_registry(entry_points=False, plugins={"acme": Plugin()})
    assert "| `ramp` | `ramp(T, base=b)` | `T` | Ramp \\| down:" in node_markdown("schedule", registry)
    assert "`ramp`" not in node_markdown("schedule")
    assert node_markdown().splitlines()[0] == "| node (aliases) | signature | kind | summary |"
