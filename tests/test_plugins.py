"""Plugin loading through entry points: discovery, every failure mode, name clashes, disabling.

Each test installs small distributions into a temporary site directory (a ``*.dist-info``
with ``entry_points.txt``, as pip writes it) that ``importlib.metadata`` discovers for real;
tests/test_plugin_distribution.py does the same with pip and a virtual environment.
"""

import importlib
import itertools
import os
import subprocess
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest

import lrdsl
from lrdsl.authoring import nonnegative, schedule_node, spec_of
from lrdsl.errors import PluginError, UnknownNameError
from lrdsl.plugins import (
    BUILTIN_PLUGINS,
    LRDSLPluginWarning,
    build_registry,
    configure_plugins,
    default_registry,
    plugin_manager,
    plugin_policy,
)
from lrdsl.registry import NameClashError

_counter = itertools.count()

# A plugin module whose nodes are named by {a} and {b}; {extra} is appended.
NODES = '''
import lrdsl
from lrdsl.authoring import BASE, Duration, positive, schedule_node


@schedule_node(horizon="T", checks={{"T": positive}})
def {a}(xp, t, T: Duration, base: float = BASE):
    """Half drop: base before T/2, then base/2."""
    return xp.where(t < T / 2, base, base / 2)


@schedule_node()
def {b}(xp, t, value: float = 0.5):
    """Flat: value."""
    return value + 0 * t
{extra}

@lrdsl.hookimpl
def lrdsl_nodes():
    return [{a}, {b}{more}]
'''


class Site:
    """A temporary site directory holding hand-made installed distributions."""

    def __init__(self, path, monkeypatch):
        self.path = path
        self.modules = []
        monkeypatch.syspath_prepend(str(path))

    def install(self, dist: str, source: str, entry_point: str = "nodes") -> str:
        """Install distribution ``dist`` with one module holding ``source``; returns the module name."""
        module = f"lrdsl_test_plugin_{next(_counter)}"
        (self.path / f"{module}.py").write_text(source)
        info = self.path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[lrdsl]\n{entry_point} = {module}\n")
        importlib.invalidate_caches()
        self.modules.append(module)
        return module

    def nodes(self, dist: str, a: str, b: str, extra: str = "", more: str = "") -> str:
        return self.install(dist, NODES.format(a=a, b=b, extra=extra, more=more))


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.delenv("LRDSL_NO_PLUGINS", raising=False)
    monkeypatch.delenv("LRDSL_BLOCK_PLUGINS", raising=False)
    site = Site(tmp_path, monkeypatch)
    default_registry.cache_clear()
    yield site
    default_registry.cache_clear()  # never leave this site's plugins in the shared registry
    for module in site.modules:
        sys.modules.pop(module, None)


@pytest.fixture
def reset_plugins():
    yield
    configure_plugins()


def load(**options):
    """build_registry(), returning it and the plugin warnings' messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = build_registry(**options)
    return registry, [str(w.message) for w in caught if issubclass(w.category, LRDSLPluginWarning)]


def works(registry, *calls):
    """Each call (and a built-in node) compiles and evaluates with this registry."""
    for call in calls + ("cosine(T=10)",):
        assert lrdsl.compile(call, base=1.0, registry=registry)(2) >= 0


# -- discovery -----------------------------------------------------------------------------------


def test_an_installed_entry_point_is_discovered_and_its_nodes_compile(site):
    site.nodes("acme-schedules", "halfdrop", "flat")
    registry, messages = load()
    assert messages == []
    assert registry.find("halfdrop").source == "acme-schedules"
    sched = lrdsl.compile("warmup(T=2, base=1) then halfdrop(T=10)", registry=registry)
    assert [sched(i) for i in (1, 2, 6, 7, 50)] == [0.5, 1.0, 1.0, 0.5, 0.5]
    assert sched.values([1, 2, 6, 7, 50]).tolist() == [0.5, 1.0, 1.0, 0.5, 0.5]


def test_the_builtins_are_registered_through_the_same_hook():
    registry = build_registry(entry_points=False)
    implementations = plugin_manager(entry_points=False).hook.lrdsl_nodes.get_hookimpls()
    assert [impl.plugin_name for impl in implementations] == list(BUILTIN_PLUGINS)
    for module in BUILTIN_PLUGINS:
        hook = importlib.import_module(module).lrdsl_nodes
        assert hasattr(hook, "lrdsl_impl"), f"{module}.lrdsl_nodes is not an @lrdsl.hookimpl"
        for node in hook():
            assert registry.find(spec_of(node).name).source == "lrdsl"
    assert {"cosine", "min", "warmup"} <= set(registry.names())


def _listing(registry):
    return [(spec.name, spec.names, spec.kind, spec.source) for spec in registry], registry.names()


def test_the_builtins_alone_make_the_same_registry_without_pluggy():
    alone = build_registry(entry_points=False)  # no plugin: the built-in hooks are called directly
    through_pluggy = build_registry(entry_points=False, plugins={"no-nodes": _NoNodes()})
    assert _listing(alone) == _listing(through_pluggy)
    code = "import sys, lrdsl; lrdsl.compile('cosine(T=5)'); print('pluggy' in sys.modules)"
    env = {**os.environ, "LRDSL_NO_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout == "False\n", done.stderr


class _NoNodes:
    """A plugin that provides no node (so that the registry is built through pluggy)."""

    @lrdsl.hookimpl
    def lrdsl_nodes(self):
        return []


@schedule_node(checks={"value": nonnegative})
def notebook_flat(xp, t, value: float = 0.25):
    """Flat: value (a node declared in a notebook)."""
    return value + 0 * t


class NotebookPlugin:
    @lrdsl.hookimpl
    def lrdsl_nodes(self):
        return [notebook_flat]


def test_the_plugins_argument_registers_an_object_without_installing_it():
    registry, messages = load(entry_points=False, plugins={"my-notebook": NotebookPlugin()})
    assert messages == [] and registry.find("notebook_flat").source == "my-notebook"
    assert lrdsl.compile("notebook_flat()", registry=registry)(3) == 0.25
    assert "notebook_flat" not in build_registry(entry_points=False)


# -- a broken plugin never takes the library down -----------------------------------------------


@pytest.mark.parametrize(
    "source, reason",
    [
        ("import numpyy_not_installed\n", "ModuleNotFoundError: No module named 'numpyy_not_installed'"),
        ("def broken(:\n", "SyntaxError"),
        ("raise RuntimeError('no GPU found')\n", "RuntimeError: no GPU found"),
    ],
)
def test_a_plugin_that_fails_to_import_is_skipped_with_a_warning(site, source, reason):
    module = site.install("broken-import", source)
    site.nodes("good-dist", "gooddrop", "flat_b")
    registry, messages = load()
    assert len(messages) == 1
    assert messages[0].startswith(f"lrdsl plugin 'broken-import': skipped: importing entry point 'nodes = {module}'")
    assert reason in messages[0]
    works(registry, "gooddrop(T=10)", "flat_b()")


@pytest.mark.parametrize(
    "body, reason",
    [
        ("raise RuntimeError('license server down')", "its lrdsl_nodes hook raised RuntimeError: license server down"),
        ("return None", "its lrdsl_nodes hook returned NoneType, not a list of nodes"),
        ("return 'cosine'", "its lrdsl_nodes hook returned str, not a list of nodes"),
        ("yield from [1 / 0]", "its lrdsl_nodes hook raised ZeroDivisionError"),
    ],
)
def test_a_hook_that_raises_or_returns_garbage_is_skipped_with_a_warning(site, body, reason):
    site.install("bad-hook", f"import lrdsl\n\n@lrdsl.hookimpl\ndef lrdsl_nodes():\n    {body}\n")
    site.nodes("good-dist", "gooddrop", "flat_b")
    registry, messages = load()
    assert len(messages) == 1 and messages[0].startswith("lrdsl plugin 'bad-hook': skipped")
    assert reason in messages[0]
    works(registry, "gooddrop(T=10)", "flat_b()")


SCHEDULE_ARG = '''
from lrdsl.authoring import ScheduleArg

@schedule_node()
def bad(xp, t, x: ScheduleArg):
    """Takes a schedule but is a formula."""
    return x
'''
NO_DOC = """
@schedule_node()
def bad(xp, t, value: float = 1.0):
    return value
"""


@pytest.mark.parametrize(
    "extra, reason",
    [
        ("bad = lambda xp, t: t", "'<lambda>' is not a node: declare nodes with the decorators of lrdsl.authoring"),
        ("bad = object()", "'object' is not a node"),
    ],
)
def test_a_malformed_node_is_skipped_with_a_warning_and_the_plugins_other_nodes_work(site, extra, reason):
    site.nodes("sloppy-dist", "gooddrop", "flat_b", extra=extra.format(b="flat_b"), more=", bad")
    registry, messages = load()
    assert len(messages) == 1 and messages[0].startswith("lrdsl plugin 'sloppy-dist': node skipped: ")
    assert reason in messages[0]
    works(registry, "gooddrop(T=10)", "flat_b()")
    assert "bad" not in registry


@pytest.mark.parametrize(
    "extra, reason",
    [
        ('@schedule_node()\ndef bad(xp, t, value=1.0):\n    """Bad."""\n', "parameter 'value' needs a type annotation"),
        (
            '@schedule_node(horizon="value")\ndef bad(xp, t, value: float):\n    """Bad."""\n',
            "horizon 'value' must name a Duration parameter",
        ),
        (
            '@schedule_node(checks={"value": lambda v: v > 0})\ndef bad(xp, t, value: float):\n    """Bad."""\n',
            "checks['value'] is a function; use positive",
        ),
        (
            '@schedule_node(checks={"valeu": positive})\ndef bad(xp, t, value: float):\n    """Bad."""\n',
            "checks name unknown parameters ['valeu']",
        ),
        ('@schedule_node()\ndef bad(xp, t, value: dict):\n    """Bad."""\n', "unsupported annotation"),
        (
            "from dataclasses import replace\nbad = replace(flat_b.lrdsl_spec, name='progress')",
            "'progress' is reserved by the language",
        ),
        (
            "from dataclasses import replace\nbad = replace(flat_b.lrdsl_spec, name='then')",
            "'then' is reserved by the language",
        ),
        ("from dataclasses import replace\nbad = replace(flat_b.lrdsl_spec, name='bad-name')", "must be identifiers"),
        (
            "from dataclasses import replace\nbad = replace(flat_b.lrdsl_spec, name='bad', aliases=None)",
            "must be identifiers",
        ),
        (
            "from dataclasses import replace\n"
            "bad = replace(flat_b.lrdsl_spec, name='bad', params=(flat_b.lrdsl_spec.params[0], 3))",
            "params must be a tuple of lrdsl.specs.Param",
        ),
        (
            "from dataclasses import replace\n"
            "bad = replace(flat_b.lrdsl_spec, name='bad', params=flat_b.lrdsl_spec.params * 2)",
            "repeat",
        ),
        (
            "from dataclasses import replace\nbad = replace(flat_b.lrdsl_spec, name='bad', doc=None)",
            "has no documentation",
        ),
        (
            "from dataclasses import replace\nbad = replace(flat_b.lrdsl_spec, name='bad', formula=None)",
            "needs exactly one callable",
        ),
        (
            "from dataclasses import replace\nbad = replace(flat_b.lrdsl_spec, name='bad', horizon='value')",
            "horizon 'value' must name a Duration parameter",
        ),
        (
            SCHEDULE_ARG,
            "parameter 'x' is a schedule, which a formula cannot take; declare the node with built_schedule_node",
        ),
        (NO_DOC, "node 'bad' has no documentation; give its function a docstring"),
        (
            '@schedule_node()\ndef bad(xp, t, value: float = "high"):\n    """Bad."""\n',
            "its default 'high' is not a number",
        ),
    ],
)
def test_a_declaration_error_skips_the_plugin_with_the_authoring_message(site, extra, reason):
    site.nodes("sloppy-dist", "halfdrop", "flat_b", extra=extra)
    site.nodes("good-dist", "gooddrop", "goodflat")
    registry, messages = load()
    assert len(messages) == 1 and messages[0].startswith("lrdsl plugin 'sloppy-dist': skipped: importing")
    assert "PluginError" in messages[0] and reason in messages[0]
    works(registry, "gooddrop(T=10)")


def test_an_unknown_hook_and_an_unmarked_hook_are_reported(site):
    site.install("typo-dist", "import lrdsl\n\n@lrdsl.hookimpl\ndef lrdsl_node():\n    return []\n")
    site.install("unmarked-dist", "def lrdsl_nodes():\n    return []\n")
    site.install("wrong-args", "import lrdsl\n\n@lrdsl.hookimpl\ndef lrdsl_nodes(registry):\n    return []\n")
    registry, messages = load()
    assert len(messages) == 3
    typo, unmarked, wrong = sorted(messages)
    assert typo.startswith("lrdsl plugin 'typo-dist': ") and "unknown hook 'lrdsl_node'" in typo
    assert "did you mean 'lrdsl_nodes'?" in typo
    assert unmarked.startswith("lrdsl plugin 'unmarked-dist': ")
    assert "mark its functions with @lrdsl.hookimpl" in unmarked
    assert wrong.startswith("lrdsl plugin 'wrong-args': skipped: registering") and "registry" in wrong
    works(registry)


# -- name clashes -------------------------------------------------------------------------------


def test_a_plugin_cannot_override_a_builtin_name_or_alias(site):
    site.nodes("shadow-dist", "cosine", "exponential")
    site.nodes(
        "shadow-two",
        "cosdrop",
        "flat_b",
        extra="from dataclasses import replace\n"
        "alias = replace(flat_b.lrdsl_spec, name='flat_c', aliases=('time_based',))",
        more=", alias",
    )
    registry, messages = load()
    assert sorted(messages) == [
        "lrdsl plugin 'shadow-dist': node 'cosine' skipped: 'cosine' is the name of the built-in node 'cosine', "
        "which a plugin cannot override; rename the plugin's node",
        "lrdsl plugin 'shadow-dist': node 'exponential' skipped: 'exponential' is the name of the built-in node "
        "'exp', which a plugin cannot override; rename the plugin's node",
        "lrdsl plugin 'shadow-two': node 'flat_c' skipped: 'time_based' is the name of the built-in node "
        "'inverse_time', which a plugin cannot override; rename the plugin's node",
    ]
    assert registry.find("cosine").source == "lrdsl" and registry.find("exponential").source == "lrdsl"
    assert lrdsl.compile("cosine(T=10)", registry=registry)(5) == pytest.approx(0.5)  # the built-in formula
    works(registry, "cosdrop(T=10)", "flat_b()")


def test_a_name_two_plugins_provide_is_disabled_with_an_error_naming_both(site):
    site.nodes("alpha-dist", "shared", "alpha_flat")
    site.nodes("beta-dist", "shared", "beta_flat")
    registry, messages = load()
    assert messages == [
        "lrdsl plugin 'beta-dist': node 'shared' is provided by both 'alpha-dist' and 'beta-dist', "
        "so lrdsl uses none of them; block all but one (LRDSL_BLOCK_PLUGINS=beta-dist or "
        "lrdsl.plugins.configure_plugins(block=[...])) or uninstall one"
    ]
    with pytest.raises(PluginError, match="node 'shared' is provided by both 'alpha-dist' and 'beta-dist'"):
        lrdsl.compile("shared(T=10)", registry=registry)
    assert lrdsl.compile("alpha_flat() + beta_flat()", registry=registry)(0) == 1.0
    assert "shared" not in registry.names()
    blocked, messages = load(block=["beta-dist"])
    assert messages == [] and blocked.find("shared").source == "alpha-dist"


def test_a_third_claimant_and_the_clashing_nodes_aliases_are_disabled_too(site):
    site.nodes(
        "alpha-dist",
        "shared",
        "alpha_flat",
        extra="from dataclasses import replace\nwide = replace(shared.lrdsl_spec, name='wide', aliases=('shared_b',))",
        more=", wide",
    )
    site.nodes("beta-dist", "shared_b", "beta_flat")
    site.nodes("gamma-dist", "shared_b", "gamma_flat")
    registry, messages = load()
    assert len(messages) == 2 and "'alpha-dist' and 'beta-dist'" in messages[0]
    assert "'alpha-dist', 'beta-dist' and 'gamma-dist'" in messages[1]
    with pytest.raises(PluginError, match="node 'wide' from 'alpha-dist' is disabled because another name"):
        registry.get("wide")
    assert registry.find("shared").source == "alpha-dist"


def test_a_plugin_declaring_a_name_twice_keeps_the_first(site):
    site.nodes("twice-dist", "halfdrop", "flat_b", more=", halfdrop")
    registry, messages = load()
    assert messages == [
        "lrdsl plugin 'twice-dist': node 'halfdrop' skipped: the plugin declares the name 'halfdrop' twice"
    ]
    works(registry, "halfdrop(T=10)", "flat_b()")


# -- turning plugins off ------------------------------------------------------------------------


def test_lrdsl_no_plugins_loads_no_entry_point(site, monkeypatch):
    site.install("broken-import", "import numpyy_not_installed\n")
    site.nodes("good-dist", "gooddrop", "flat_b")
    monkeypatch.setenv("LRDSL_NO_PLUGINS", "1")
    registry, messages = load()
    assert messages == [] and "gooddrop" not in registry
    works(registry)
    monkeypatch.setenv("LRDSL_NO_PLUGINS", "0")
    assert "gooddrop" in load()[0]


def test_lrdsl_block_plugins_blocks_distributions_by_normalised_name_or_entry_point(site, monkeypatch):
    site.install("Broken_Import", "import numpyy_not_installed\n")
    site.nodes("good-dist", "gooddrop", "flat_b")
    site.install("other-dist", NODES.format(a="otherdrop", b="other_flat", extra="", more=""), entry_point="extras")
    monkeypatch.setenv("LRDSL_BLOCK_PLUGINS", " broken-import , extras")
    registry, messages = load()
    assert messages == [] and "otherdrop" not in registry
    works(registry, "gooddrop(T=10)", "flat_b()")
    assert plugin_policy().block == {"broken-import", "extras"}


def test_configure_plugins_overrides_the_environment_and_rebuilds_the_default_registry(
    site, monkeypatch, reset_plugins
):
    site.nodes("good-dist", "gooddrop", "flat_b")
    monkeypatch.setenv("LRDSL_NO_PLUGINS", "1")
    configure_plugins(entry_points=True)
    assert default_registry().find("gooddrop").source == "good-dist"
    assert lrdsl.compile("gooddrop(T=4)", base=2.0)(3) == 1.0
    configure_plugins(entry_points=True, block=["GOOD_DIST"])
    with pytest.raises(UnknownNameError, match="unknown schedule or function node 'gooddrop'"):
        lrdsl.compile("gooddrop(T=4)")
    configure_plugins()  # back to the environment, which says no plugins
    assert "gooddrop" not in default_registry()
    with pytest.raises(PluginError, match="takes a list of distribution names"):
        configure_plugins(block="good-dist")


# -- every use of a plugin node is validated against its declaration ----------------------------


@pytest.mark.parametrize(
    "text, error, fragment",
    [
        ("halfdrop(T=-3)", lrdsl.LRDSLError, "T=-3 is out of range; allowed: > 0"),
        ("halfdrop(T=10, bsae=1)", UnknownNameError, "unknown parameter 'bsae'; did you mean 'base'?"),
        ('halfdrop(T="long")', lrdsl.LRDSLError, "parameter T expects a duration"),
        ("halfdrop(1, 2, 3)", lrdsl.LRDSLError, "takes at most 2 positional arguments (halfdrop(T, base=b))"),
        ("halfdrop() then cosine(T=5)", lrdsl.LRDSLError, "phase 1 (halfdrop()) is followed by another phase"),
        ("halfdorp(T=3)", UnknownNameError, "did you mean 'halfdrop'?"),
    ],
)
def test_uses_of_a_plugin_node_are_checked_against_its_declaration(site, text, error, fragment):
    site.nodes("good-dist", "halfdrop", "flat_b")
    registry, _ = load()
    with pytest.raises(error) as info:
        lrdsl.compile(text, registry=registry)
    assert fragment in str(info.value)


def test_a_plugin_nodes_horizon_gives_its_phase_length(site):
    site.nodes("good-dist", "halfdrop", "flat_b")
    registry, _ = load()
    sched = lrdsl.compile("halfdrop(T=10) then flat_b(value=0.1)", registry=registry, base=1.0)
    assert [sched(4), sched(5), sched(9), sched(10)] == [1.0, 0.5, 0.5, 0.1]
    assert lrdsl.compile("halfdrop()", total=100, registry=registry).values(np.array([49, 50])).tolist() == [1, 0.5]


# -- the registry itself --------------------------------------------------------------------------


def test_the_registry_raises_on_a_duplicate_naming_both_sources():
    registry = build_registry(entry_points=False).copy()
    with pytest.raises(NameClashError) as info:
        registry.add(replace(notebook_flat.lrdsl_spec, name="flat", aliases=("time_based",)), "my-dist")
    assert str(info.value) == (
        "node name 'time_based' from 'my-dist' clashes with 'inverse_time' from 'lrdsl'; rename one of them"
    )
    assert "flat" not in registry  # nothing of a refused spec is registered


def test_add_remove_copy_and_withdraw():
    base = build_registry(entry_points=False)
    registry = base.copy()
    version = registry.version
    spec = registry.add(replace(notebook_flat.lrdsl_spec, aliases=("nb_flat",)), "my-dist")
    assert registry.version > version and base.version == version
    assert spec.source == "my-dist" and registry.find("nb_flat") is spec and "notebook_flat" not in base
    assert len(registry) == len(base) + 1 and registry.names("schedule").count("nb_flat") == 1
    assert registry.remove("nb_flat") is spec and "notebook_flat" not in registry
    with pytest.raises(UnknownNameError, match="did you mean 'cosine'"):
        registry.remove("cosinee")
    registry.add(notebook_flat, "one-dist")
    registry.withdraw(registry.find("notebook_flat"), "one-dist")
    registry.withdraw(notebook_flat, "two-dist")
    assert registry.withdrawn() == {"notebook_flat": ("one-dist", "two-dist")}
    with pytest.raises(NameClashError, match="a name already disabled because 'one-dist' and 'two-dist' claim it"):
        registry.add(notebook_flat, "three-dist")
    assert "notebook_flat" not in registry.names() and base.withdrawn() == {}


def test_an_empty_registry_is_still_a_registry():
    from lrdsl.registry import Registry

    empty = Registry()
    assert len(empty) == 0 and bool(empty) and list(empty) == []
    with pytest.raises(UnknownNameError, match="unknown schedule or function node 'cosine'"):
        lrdsl.compile("cosine(T=3)", registry=empty)


def test_plugin_manager_is_the_pluggy_manager_with_the_builtins():
    manager = plugin_manager(entry_points=False)
    assert {manager.get_name(p) for p in manager.get_plugins()} == set(BUILTIN_PLUGINS)


XP_BUGS = '''
@schedule_node()
def step_node(xp, t, value: float = 1.0):
    """Step: value · H(t − 1) (heaviside: NumPy only; the scalar namespace falls back to NumPy)."""
    return value * xp.heaviside(t - 1, 1.0)


@schedule_node()
def none_node(xp, t):
    """A bug."""
    return None + t
'''


def test_a_bug_in_a_plugin_formula_is_an_lrdsl_error_naming_the_plugin(site):
    site.nodes("buggy-dist", "gooddrop", "flat_b", extra=XP_BUGS, more=", step_node, none_node")
    registry, messages = load()
    assert messages == []
    sched = lrdsl.compile("step_node()", registry=registry)
    # a NumPy-only name (heaviside) works in the scalar evaluator too, through NumPy
    assert sched.values([0.0, 1.0]).tolist() == [0.0, 1.0] == [sched(0), sched(1)]
    with pytest.raises(lrdsl.LRDSLError, match="node 'none_node' from plugin 'buggy-dist' failed: TypeError"):
        lrdsl.compile("none_node()", registry=registry).values([1.0])
    works(registry, "gooddrop(T=10)", "flat_b()")
