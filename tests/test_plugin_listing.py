"""lrdsl.listing: the node table and one node's full documentation, read from the registry."""

import pytest

import lrdsl
from lrdsl.authoring import BASE, Duration, between, optimizer_node, positive, schedule_node
from lrdsl.errors import PluginError, UnknownNameError
from lrdsl.listing import node_doc, node_rows, node_table
from lrdsl.plugins import build_registry


@schedule_node(aliases=("ramp_down",), horizon="T", checks={"T": positive, "frac": between(0, 1)})
def ramp(xp, t, T: Duration, frac: float = 0.5, base: float = BASE):
    """Ramp: base · (1 − frac · min(t, T)/T).

    - T > 0: its length; frac in [0, 1]: how far it falls
    """
    return base * (1 - frac * xp.minimum(t, T) / T)


@optimizer_node(checks={"lr": positive}, fixed=("scale",))
def nudge(param, grad, state, lr: float = 0.1, scale: float = 1.0):
    """Nudge: θ ← θ − lr·scale·g."""
    param -= lr * scale * grad


class ListingPlugin:
    @lrdsl.hookimpl
    def lrdsl_nodes(self):
        return [ramp, nudge]


class ClashingPlugin:
    @lrdsl.hookimpl
    def lrdsl_nodes(self):
        return [ramp]


@pytest.fixture(scope="module")
def registry():
    return build_registry(entry_points=False, plugins={"acme-ramps": ListingPlugin()})


def test_the_table_lists_every_node_once_with_kind_source_signature_and_summary(registry):
    table = node_table(registry).splitlines()
    assert table[0].split() == ["NAME", "KIND", "SOURCE", "SIGNATURE", "SUMMARY"]
    rows = table[1:]
    assert len(rows) == len(registry) == len(list(registry))
    ramp_row = next(line for line in rows if line.startswith("ramp "))
    assert ramp_row.split()[:5] == ["ramp", "(ramp_down)", "schedule", "acme-ramps", "ramp(T,"]
    assert ramp_row.endswith("Ramp: base · (1 − frac · min(t, T)/T).")
    cosine_row = next(line for line in rows if line.startswith("cosine "))
    assert "schedule" in cosine_row and " lrdsl " in cosine_row and "cosine(T, end=0, base=b)" in cosine_row
    kinds = [row["kind"] for row in node_rows(registry)]
    assert kinds == sorted(kinds, key=["schedule", "optimizer", "function"].index)  # grouped by kind
    assert [line.split()[0] for line in rows] == [row["name"] for row in node_rows(registry)]


def test_rows_filter_by_kind_and_reject_an_unknown_kind(registry):
    rows = node_rows(registry, kind="optimizer")
    assert {row["kind"] for row in rows} == {"optimizer"}
    nudge_row = next(row for row in rows if row["name"] == "nudge")
    assert nudge_row == {
        "name": "nudge",
        "kind": "optimizer",
        "source": "acme-ramps",
        "signature": "nudge(lr=0.1, scale=1)",
        "summary": "Nudge: θ ← θ − lr·scale·g.",
        "aliases": [],
    }
    assert "ramp" not in node_table(registry, kind="function")
    with pytest.raises(UnknownNameError, match="unknown node kind 'schedules'; did you mean 'schedule'"):
        node_rows(registry, kind="schedules")


def test_one_nodes_doc_has_formula_parameters_defaults_ranges_aliases_and_source(registry):
    doc = node_doc("ramp_down", registry)
    assert doc.splitlines()[0] == "ramp(T, frac=0.5, base=b)"
    for line in [
        "'ramp_down' is an alias of 'ramp'.",
        "kind: schedule",
        "source: acme-ramps",
        "aliases: ramp_down",
        "natural length: its parameter T",
        "Ramp: base · (1 − frac · min(t, T)/T).",
        "- T > 0: its length; frac in [0, 1]: how far it falls",
        "  T: a duration (500, 500it, 5ep or 10%); default: the length of its phase; allowed: > 0",
        "  frac: a number; default: 0.5; allowed: in [0, 1]",
        "  base: a number; default: b, the incoming base",
    ]:
        assert line in doc.splitlines()


def test_an_optimizer_doc_says_which_hyperparameters_may_be_schedules(registry):
    doc = node_doc("nudge", registry).splitlines()
    assert "  lr: a number or a schedule; default: 0.1; allowed: > 0" in doc
    assert "  scale: a number; default: 1" in doc
    assert "natural length" not in "\n".join(doc)
    assert "constraints:" in node_doc("sgd", registry)
    assert node_doc(registry.get("nudge")) == node_doc("nudge", registry)  # a spec or a name


def test_the_doc_of_an_unknown_node_suggests_the_closest():
    with pytest.raises(
        UnknownNameError, match="unknown schedule or optimizer or function node 'cosin'; did you mean 'cosine'"
    ):
        node_doc("cosin")


def test_a_name_disabled_by_a_clash_is_listed_with_the_fix():
    with pytest.warns(UserWarning, match="node 'ramp' is provided by both 'acme-ramps' and 'beta-ramps'"):
        registry = build_registry(
            entry_points=False, plugins={"acme-ramps": ListingPlugin(), "beta-ramps": ClashingPlugin()}
        )
    table = node_table(registry)
    assert "disabled by a name clash:" in table
    assert "node 'ramp' is provided by both 'acme-ramps' and 'beta-ramps'" in table
    assert "node 'ramp_down' is provided by both 'acme-ramps' and 'beta-ramps'" in table
    with pytest.raises(PluginError, match="LRDSL_BLOCK_PLUGINS=beta-ramps"):
        node_doc("ramp", registry)
