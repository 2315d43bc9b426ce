"""Loading schedules from YAML, TOML, JSON, dicts and Hydra, with $variables from the same document."""

import json

import numpy as np
import pytest

tomli_w = pytest.importorskip("tomli_w")
yaml = pytest.importorskip("yaml")

import lrdsl
from lrdsl.config import ConfigError, load_document, load_entry, load_schedule, lookup
from lrdsl.errors import UnknownNameError

DOCUMENT = {
    "optimizer": {
        "lr": 3e-4,
        "min_lr": 1e-6,
        "schedule": "warmup(5%, base=$lr) then cosine(end=$optimizer.min_lr)",
    },
    "trainer": {"steps": 1000, "epochs": 10},
    "lr_schedule": {
        "expression": "warmup(T=$warmup) then cosine(end=1e-5)",
        "base": "$optimizer.lr",
        "total": "$trainer.steps",
        "variables": {"warmup": 50},
    },
    "lr": 99.0,  # shadowed by optimizer.lr for entries under optimizer
}


def values(sched):
    return sched.values(np.arange(0, 1001, 7))


def expected_optimizer_schedule():
    return lrdsl.compile("warmup(5%, base=3e-4) then cosine(end=1e-6)", total=1000)


def expected_lr_schedule():
    return lrdsl.compile("warmup(T=50) then cosine(end=1e-5)", base=3e-4, total=1000)


@pytest.mark.parametrize(
    "suffix, dump",
    [
        (".yaml", lambda d: yaml.safe_dump(d).encode()),
        (".toml", lambda d: tomli_w.dumps(d).encode()),
        (".json", lambda d: json.dumps(d).encode()),
    ],
)
def test_files_in_every_format(tmp_path, suffix, dump):
    path = tmp_path / f"train{suffix}"
    path.write_bytes(dump(DOCUMENT))
    np.testing.assert_array_equal(
        values(load_schedule(path, key="optimizer.schedule", total=1000)), values(expected_optimizer_schedule())
    )
    np.testing.assert_array_equal(values(load_schedule(str(path), key="lr_schedule")), values(expected_lr_schedule()))


def test_yaml_block_with_comments(tmp_path):
    path = tmp_path / "train.yml"
    path.write_text("schedule: |\n  warmup(T=10)     # ramp up\n  then cosine(T=90)\nbase: 0.1\n")
    sched = load_schedule(path, base=lookup(load_document(path), "base"))
    assert sched(10) == pytest.approx(0.1) and sched(100) == 0.0


def test_variables_resolve_from_the_innermost_table_outwards():
    entry = load_entry(DOCUMENT, "optimizer.schedule")
    assert entry.variables == {"lr": 3e-4, "optimizer.min_lr": 1e-6}  # not the top-level lr
    assert load_entry({"lr": 0.5, "s": "cosine(T=10, base=$lr)"}, "s").variables == {"lr": 0.5}


def test_precedence_explicit_then_entry_then_document():
    entry = load_entry(DOCUMENT, "lr_schedule", variables={"warmup": 7}, total=500)
    assert entry.variables == {"warmup": 7} and entry.total == 500 and entry.base == 3e-4
    assert entry.options() == {"base": 3e-4, "total": 500, "variables": {"warmup": 7}}  # only what it gives
    assert load_schedule(DOCUMENT, "lr_schedule", base=1.0)(50) == pytest.approx(1.0)


def test_nested_list_and_string_variables():
    document = {
        "decay": "exp(s=5)",
        "s": "warmup(T=3, base=0.1) then $decay",
        "steps": {"period": 6},
        "t": "0.1 * 0.5 ** floor(it / $steps.period)",
        "m": "multistep(at=$at, base=1)",
        "at": [2, 4],
    }
    assert load_schedule(document, "s")(8) == pytest.approx(0.1 * 0.1**1)
    assert load_schedule(document, "t")(6) == pytest.approx(0.05)
    np.testing.assert_allclose(load_schedule(document, "m").values(np.arange(6)), [1, 1, 0.1, 0.1, 0.01, 0.01])


@pytest.mark.parametrize(
    "document, key, error, match",
    [
        (DOCUMENT, "optimizer.shedule", UnknownNameError, "no key 'optimizer.shedule'.*did you mean 'schedule'"),
        ({"s": "cosine(T=$steps)"}, "s", UnknownNameError, r"\$steps is neither in variables nor a key"),
        ({"s": "cosine(T=$opt)", "opt": {"a": 1}}, "s", ConfigError, "refers to a table"),
        ({"s": 3}, "s", ConfigError, "expected an lrdsl string"),
        ({"s": {"expr": "cosine(T=3)"}}, "s", ConfigError, "unknown keys.*'expression'"),
        ({"s": {"expression": "cosine(T=3)", "variables": [1]}}, "s", ConfigError, "'variables' must be a table"),
        ({"s": "cosine(T=3"}, "s", lrdsl.LRDSLError, "expected"),
    ],
)
def test_bad_configs_raise_lrdsl_errors(document, key, error, match):
    with pytest.raises(error, match=match):
        load_schedule(document, key)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown config format '.ini'"):
        load_schedule(tmp_path / "x.ini")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_schedule(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedule: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_schedule(bad)
    bad = tmp_path / "bad.toml"
    bad.write_text("schedule = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_schedule(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level"):
        load_schedule(top)
    with pytest.raises(ConfigError, match="unknown option"):
        load_entry(DOCUMENT, "lr_schedule", warmup=3)


# -- Hydra ----------------------------------------------------------------------------------------

HYDRA_YAML = """
optimizer:
  lr: 0.1
trainer:
  steps: 200
schedule:
  _target_: lrdsl.compile
  text_or_node: "warmup(T=$warmup) then cosine(end=$floor)"
  base: ${optimizer.lr}
  total: ${trainer.steps}
  variables:
    warmup: 20
    floor: 1.0e-4
"""


def test_hydra_instantiate_compile():
    pytest.importorskip("hydra")
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(HYDRA_YAML)
    sched = instantiate(cfg.schedule)
    assert isinstance(sched, lrdsl.Schedule)
    expected = lrdsl.compile("warmup(T=20) then cosine(end=1e-4)", base=0.1, total=200)
    np.testing.assert_array_equal(sched.values(np.arange(200)), expected.values(np.arange(200)))


def test_hydra_config_through_load_schedule_and_a_partial_torch_scheduler():
    pytest.importorskip("hydra")
    torch = pytest.importorskip("torch")
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(
        {
            "optimizer": {"lr": 0.1, "schedule": "warmup(T=4, base=$lr) then cosine(T=8)"},
            "sched": {
                "_target_": "lrdsl.bridges.torch.ScheduleLR",
                "_partial_": True,
                "schedule": "${optimizer.schedule}",
                "variables": {"lr": "${optimizer.lr}"},
                "base": 1.0,
            },
        }
    )
    assert load_schedule(cfg, "optimizer.schedule")(4) == pytest.approx(0.1)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    scheduler = instantiate(cfg.sched)(optimizer)
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(rates, load_schedule(cfg, "optimizer.schedule").values(np.arange(12)))


def test_optimizer_strings_from_a_config(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text(
        '[optimizer]\nlr = 0.01\nspec = "adamw(lr=warmup(T=2, base=$lr) then cosine(T=8), weight_decay=0.05)"\n'
    )
    entry = load_entry(path, "optimizer.spec")
    assert entry.variables == {"lr": 0.01} and "base" not in entry.options()
    params = [np.ones(3)]
    opt = lrdsl.optimizer(entry.text, params, **entry.options())
    rates = []
    for _ in range(10):
        rates.append(opt.lr)
        opt.step([np.ones(3)])
    np.testing.assert_allclose(rates, lrdsl.compile("warmup(T=2, base=0.01) then cosine(T=8)").values(np.arange(10)))


# -- bad keys, YAML numbers, optimizer options ------------------------------------------------------


@pytest.mark.parametrize("key", [5, None, 1.5, ("optimizer", "schedule"), "", "  "])
def test_a_key_that_is_not_a_string_is_a_config_error(key):
    with pytest.raises(ConfigError, match="a config key is a non-empty string"):
        load_schedule(DOCUMENT, key=key)
    with pytest.raises(ConfigError, match="a config key is a non-empty string"):
        lookup(DOCUMENT, key)


def test_documents_with_keys_that_are_not_strings():
    # YAML reads unquoted 1, 2.5 and yes/on as numbers and booleans (on is True: the same key as 1)
    document = yaml.safe_load("1: x\n2.5: y\non: z\ncosine_schedule: cosine(T=10)\nsched: cosine(T=$cosine_schedul)\n")
    assert {1, 2.5} < set(document)
    with pytest.raises(UnknownNameError, match=r"no key 'cosine_schedul'.*did you mean 'cosine_schedule'.*quote"):
        load_schedule(document, "cosine_schedul")
    with pytest.raises(UnknownNameError, match=r"\$cosine_schedul is neither.*did you mean 'cosine_schedule'"):
        load_schedule(document, "sched")
    with pytest.raises(ConfigError, match=r"unknown keys \[('x', 1|1, 'x')\]"):
        load_schedule({"s": {"expression": "cosine(T=3)", 1: 2, "x": 3}}, "s")
    with pytest.raises(ConfigError, match="variable names must be strings, got 1"):
        load_schedule({"s": {"expression": "cosine(T=$a)", "variables": {1: 2, "a": 3}}}, "s")
    with pytest.raises(ConfigError, match=r"variables must be a mapping from names .*got a list of 1 item"):
        load_schedule({"s": "cosine(T=3)"}, "s", variables=[1])


def test_an_unresolvable_omegaconf_config_is_a_config_error():
    pytest.importorskip("omegaconf")
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"s": "cosine(T=3)", "lr": "${missing.key}"})
    with pytest.raises(ConfigError, match="cannot resolve the OmegaConf config.*missing"):
        load_schedule(cfg, "s")


YAML_NUMBERS = """
optimizer:
  lr: 3e-4
trainer:
  steps_per_epoch: 1e2
schedule:
  expression: "warmup(T=1ep) then cosine(T=4ep)"
  base: $optimizer.lr
  steps_per_epoch: $trainer.steps_per_epoch
direct:
  expression: "cosine(T=100)"
  base: 3e-4
  steps_per_epoch: 5E+1
named: "warmup(T=10, base=$lr) then cosine(T=90)"
lr: 1e-3
not_a_number:
  expression: "cosine(T=100)"
  base: fast
bad_reference:
  expression: "cosine(T=100)"
  steps_per_epoch: $named
"""


def test_yaml_numbers_without_a_dot(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(YAML_NUMBERS)
    assert yaml.safe_load(YAML_NUMBERS)["optimizer"]["lr"] == "3e-4"  # PyYAML: YAML 1.1 reads it as a string
    entry = load_entry(path, "schedule")
    assert (entry.base, entry.steps_per_epoch) == (3e-4, 100.0)
    points = np.arange(0, 501, 5)
    np.testing.assert_array_equal(
        load_schedule(path, "schedule").values(points),
        lrdsl.compile("warmup(T=1ep) then cosine(T=4ep)", base=3e-4, steps_per_epoch=100).values(points),
    )
    direct = load_entry(path, "direct")
    assert (direct.base, direct.steps_per_epoch) == (3e-4, 50.0)
    np.testing.assert_array_equal(
        load_schedule(path, "named").values(points),
        lrdsl.compile("warmup(T=10, base=1e-3) then cosine(T=90)").values(points),
    )
    assert load_schedule(path, "direct", base="2e-3")(0) == pytest.approx(2e-3)
    with pytest.raises(ConfigError, match=r"config entry 'not_a_number': base='fast' is not a number.*e\.g\. base: "):
        load_schedule(path, "not_a_number")
    with pytest.raises(ConfigError, match=r"'bad_reference': steps_per_epoch=\$named, which is 'warmup.*not a number"):
        load_schedule(path, "bad_reference")
    with pytest.raises(ConfigError, match="base='inf' is not a number"):
        load_schedule(path, "direct", base="inf")


OPTIMIZER_ENTRIES = {
    "lr": 0.01,
    "spec": {"expression": "adamw(lr=warmup(T=2, base=$lr) then cosine(), weight_decay=0.05)", "total": 10},
    "with_base": {"expression": "adamw(lr=cosine(T=10))", "base": 0.1},
}


def test_optimizer_options_fit_every_optimizer_factory():
    import importlib
    import inspect

    for framework in ("jax", "optax", "keras"):
        pytest.importorskip(framework)
    torch = pytest.importorskip("torch")
    from lrdsl.bridges.torch import ScheduleLR
    from lrdsl.bridges.torch import optimizer as torch_optimizer

    entry = load_entry(OPTIMIZER_ENTRIES, "spec")
    assert entry.optimizer_options() == {"total": 10, "variables": {"lr": 0.01}}
    expected = lrdsl.compile("warmup(T=2, base=0.01) then cosine()", total=10).values(np.arange(10))
    opt = lrdsl.optimizer(entry.text, [np.ones(3)], **entry.optimizer_options())
    rates = []
    for _ in range(10):
        rates.append(opt.lr)
        opt.step([np.ones(3)])
    np.testing.assert_allclose(rates, expected)
    built = torch_optimizer(entry.text, [torch.nn.Parameter(torch.zeros(3))], **entry.optimizer_options())
    assert built.optimizer.param_groups[0]["lr"] == pytest.approx(expected[0])
    for factory in ("lrdsl.bridges.jax", "lrdsl.bridges.keras"):  # the same keywords
        inspect.signature(importlib.import_module(factory).optimizer).bind(entry.text, **entry.optimizer_options())

    # an entry with base: options() are a schedule's (compile, ScheduleLR), an optimizer refuses base
    with_base = load_entry(OPTIMIZER_ENTRIES, "with_base")
    assert with_base.options()["base"] == 0.1
    sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert ScheduleLR(sgd, "cosine(T=10)", **with_base.options()).get_last_lr() == [pytest.approx(0.1)]
    with pytest.raises(ConfigError, match="'with_base' sets base=0.1, which an optimizer string does not take"):
        with_base.optimizer_options()


# -- Hydra: list variables arrive as omegaconf ListConfig -------------------------------------------

HYDRA_LIST_YAML = """
schedule:
  _target_: lrdsl.compile
  text_or_node: "multistep(at=$m)"
  base: 0.5
  variables:
    m: [3, 6]
"""


def test_hydra_list_variables():
    pytest.importorskip("hydra")
    from hydra.utils import instantiate
    from omegaconf import ListConfig, OmegaConf

    cfg = OmegaConf.create(HYDRA_LIST_YAML)
    assert isinstance(cfg.schedule.variables.m, ListConfig)
    sched = instantiate(cfg.schedule)
    expected = lrdsl.compile("multistep(at=$m)", base=0.5, variables={"m": [3, 6]})
    np.testing.assert_array_equal(sched.values(np.arange(10)), expected.values(np.arange(10)))
