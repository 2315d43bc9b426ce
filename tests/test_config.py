"""Loading schedules from YAML, TOML, JSON, dicts and Hydra, with $variables from the same document."""

import json

import numpy as np
import pytest
import tomli_w
import yaml

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


@pytest.mark.parametrize("suffix, dump", [
    (".yaml", lambda d: yaml.safe_dump(d).encode()),
    (".toml", lambda d: tomli_w.dumps(d).encode()),
    (".json", lambda d: json.dumps(d).encode()),
])
def test_files_in_every_format(tmp_path, suffix, dump):
    path = tmp_path / f"train{suffix}"
    path.write_bytes(dump(DOCUMENT))
    np.testing.assert_array_equal(values(load_schedule(path, key="optimizer.schedule", total=1000)),
                                  values(expected_optimizer_schedule()))
    np.testing.assert_array_equal(values(load_schedule(str(path), key="lr_schedule")),
                                  values(expected_lr_schedule()))


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
    assert entry.options() == {"base": 3e-4, "steps_per_epoch": None, "total": 500, "variables": {"warmup": 7}}
    assert load_schedule(DOCUMENT, "lr_schedule", base=1.0)(50) == pytest.approx(1.0)


def test_nested_list_and_string_variables():
    document = {"decay": "exp(s=5)", "s": "warmup(T=3, base=0.1) then $decay", "steps": {"period": 6},
                "t": "0.1 * 0.5 ** floor(it / $steps.period)", "m": "multistep(at=$at, base=1)", "at": [2, 4]}
    assert load_schedule(document, "s")(8) == pytest.approx(0.1 * 0.1 ** 1)
    assert load_schedule(document, "t")(6) == pytest.approx(0.05)
    np.testing.assert_allclose(load_schedule(document, "m").values(np.arange(6)), [1, 1, 0.1, 0.1, 0.01, 0.01])


@pytest.mark.parametrize("document, key, error, match", [
    (DOCUMENT, "optimizer.shedule", UnknownNameError, "no key 'optimizer.shedule'.*did you mean 'schedule'"),
    ({"s": "cosine(T=$steps)"}, "s", UnknownNameError, r"\$steps is neither in variables nor a key"),
    ({"s": "cosine(T=$opt)", "opt": {"a": 1}}, "s", ConfigError, "refers to a table"),
    ({"s": 3}, "s", ConfigError, "expected an lrdsl string"),
    ({"s": {"expr": "cosine(T=3)"}}, "s", ConfigError, "unknown keys.*'expression'"),
    ({"s": {"expression": "cosine(T=3)", "variables": [1]}}, "s", ConfigError, "'variables' must be a table"),
    ({"s": "cosine(T=3"}, "s", lrdsl.LRDSLError, "expected"),
])
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
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(HYDRA_YAML)
    sched = instantiate(cfg.schedule)
    assert isinstance(sched, lrdsl.Schedule)
    expected = lrdsl.compile("warmup(T=20) then cosine(end=1e-4)", base=0.1, total=200)
    np.testing.assert_array_equal(sched.values(np.arange(200)), expected.values(np.arange(200)))


def test_hydra_config_through_load_schedule_and_a_partial_torch_scheduler():
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"optimizer": {"lr": 0.1, "schedule": "warmup(T=4, base=$lr) then cosine(T=8)"},
                            "sched": {"_target_": "lrdsl.bridges.torch.ScheduleLR", "_partial_": True,
                                      "schedule": "${optimizer.schedule}", "variables": {"lr": "${optimizer.lr}"},
                                      "base": 1.0}})
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
    path.write_text('[optimizer]\nlr = 0.01\nspec = "adamw(lr=warmup(T=2, base=$lr) then cosine(T=8), '
                    'weight_decay=0.05)"\n')
    entry = load_entry(path, "optimizer.spec")
    assert entry.variables == {"lr": 0.01} and "base" not in entry.options()
    params = [np.ones(3)]
    opt = lrdsl.optimizer(entry.text, params, **entry.options())
    rates = []
    for _ in range(10):
        rates.append(opt.lr)
        opt.step([np.ones(3)])
    np.testing.assert_allclose(rates, lrdsl.compile("warmup(T=2, base=0.01) then cosine(T=8)").values(np.arange(10)))
