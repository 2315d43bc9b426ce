"""Templates on the engines: Optuna studies run by ``lrdsl sweep`` in two worker processes on SQLite
and on a real PostgreSQL server started here, and a Ray Tune Tuner on a local Ray instance."""

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

import lrdsl
from lrdsl import search
from lrdsl.cli import main
from lrdsl.search import sweep_config

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVE = ROOT / "tests" / "fixtures" / "sweep_objective.py"
TEMPLATE = "warmup(intuniform(1, 20)) then choice(cosine(end=uniform(0, 0.1)), linear(end=0), constant(0.5))"


def write_config(folder: Path, storage: str, trials: int = 6) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            template: "{TEMPLATE}"
            objective: {OBJECTIVE}:objective
            n_trials: {trials}
            storage: {storage}
            study: test
            sampler: {{name: RandomSampler, seed: 1}}
            pruner: none
            compile: {{total: 100}}
            """)
    )
    return path


def assert_study(storage: str, trials: int, workers: int) -> None:
    """Every trial finished and recorded its concrete string, which compiles, and its value is the
    objective's for that string."""
    optuna = pytest.importorskip("optuna")
    study = optuna.load_study(study_name="test", storage=storage)
    done = study.get_trials()
    assert trials <= len(done) <= trials + workers - 1  # workers starting together may add one
    assert all(t.state.name == "COMPLETE" for t in done)
    found = search.space(TEMPLATE)
    for trial in done:
        text = trial.user_attrs["schedule"]
        assert text == found.sample({name: trial.params[name] for name in trial.params})
        sched = lrdsl.compile(text, total=100)
        assert trial.value == pytest.approx(float(sched.values(list(range(100))).mean()), rel=1e-12)


def test_sweep_on_sqlite_with_two_workers(tmp_path, capsys):
    pytest.importorskip("optuna", reason="lrdsl sweep needs optuna: pip install 'lrdsl[search]'")
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    storage = f"sqlite:///{tmp_path / 'sweep.db'}"
    config = write_config(tmp_path, storage)
    assert main(["sweep", str(config), "--workers", "2", "--plot", str(tmp_path / "best.png"), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "2 worker(s)" in out and "done (" in out and "best " in out
    table = out[out.index("rank  trial") :].splitlines()
    assert len(table) >= 4 and table[1].startswith("1 ")
    assert (tmp_path / "best.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_study(storage, 6, 2)


def test_sweep_config_errors_are_clear(tmp_path):
    pytest.importorskip("optuna", reason="lrdsl sweep needs optuna: pip install 'lrdsl[search]'")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    text = config.read_text()
    config.write_text(text.replace("RandomSampler", "RandomSamplr"))
    with pytest.raises(lrdsl.LRDSLError, match="did you mean 'RandomSampler'"):
        sweep_config.load(config).make("samplers", sweep_config.load(config).sampler)
    config.write_text(text.replace(":objective", ":objectiv"))
    with pytest.raises(lrdsl.LRDSLError, match="no function 'objectiv'; did you mean 'objective'"):
        sweep_config.load(config).load_objective()
    config.write_text(text + "n_trails: 3\n")
    with pytest.raises(lrdsl.LRDSLError, match="unknown key"):
        sweep_config.load(config)
    config.write_text(text.replace("intuniform(1, 20)", "intuniform(20, 1)"))
    assert main(["sweep", str(config)]) == 2  # the template is checked before any worker starts


# -- PostgreSQL -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command):
    """PostgreSQL refuses to run as root: as root, run the server as 'nobody'."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--", *command]
    return command


def _server_program(name: str):
    """A PostgreSQL server program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found is None:
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
        found = str(versions[-1]) if versions else None
    return found


@pytest.fixture
def postgres():
    """A PostgreSQL server in a temporary folder on a free localhost port, stopped and removed at the
    end; the test skips (naming the reason) only when none can be started here."""
    pytest.importorskip("psycopg2", reason="PostgreSQL storage needs psycopg2: pip install psycopg2-binary")
    initdb, pg_ctl = _server_program("initdb"), _server_program("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("no PostgreSQL server here (initdb, pg_ctl): apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="lrdsl-postgres-"))  # in /tmp, which the server user can reach
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    data, port = folder / "data", _free_port()
    run = dict(capture_output=True, text=True, timeout=120)
    try:
        made = subprocess.run(_as_server_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]), **run)
        if made.returncode != 0:
            pytest.skip(f"cannot create a PostgreSQL cluster here: {made.stderr.strip()[-300:]}")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        log = str(folder / "log")
        started = subprocess.run(
            _as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l", log, "-w", "start"]), **run
        )
        if started.returncode != 0:
            pytest.skip(f"cannot start PostgreSQL here: {started.stderr.strip()[-300:]}")
        try:
            yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"  # SQLAlchemy 2.1 defaults to psycopg 3
        finally:
            subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]), **run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_sweep_on_postgresql_with_two_workers(tmp_path, postgres, capsys):
    pytest.importorskip("optuna", reason="lrdsl sweep needs optuna: pip install 'lrdsl[search]'")
    config = write_config(tmp_path, "sqlite:///unused.db")
    assert main(["sweep", str(config), "--workers", "2", "--storage", postgres]) == 0
    assert "postgresql+psycopg2://" in capsys.readouterr().out
    assert_study(postgres, 6, 2)


# -- Ray Tune ---------------------------------------------------------------------------------------------


def test_ray_tune_tuner_records_each_trials_string(tmp_path, monkeypatch):
    pytest.importorskip("ray.tune", reason="the Ray Tune adapter needs ray[tune]: pip install 'lrdsl[ray]'")
    import ray
    from ray import tune

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    template = TEMPLATE

    def trainable(config):  # runs in a Ray worker: this checkout's lrdsl, through PYTHONPATH
        from lrdsl import search as worker_search

        text = worker_search.from_config(template, config)
        values = lrdsl.compile(text, total=100).values(list(range(100)))
        tune.report({"score": float(values.mean()), "schedule": text})

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        tuner = tune.Tuner(
            trainable,
            param_space=search.tune_space(template),
            tune_config=tune.TuneConfig(num_samples=4, metric="score", mode="min"),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name="lrdsl", verbose=0),
        )
        results = tuner.fit()
    finally:
        ray.shutdown()
    assert len(results) == 4 and not results.errors
    for result in results:
        text = result.metrics["schedule"]
        expected = {name: result.config[name] for name in search.space(template).names()}
        assert text == search.from_config(template, expected)
        assert result.metrics["score"] == pytest.approx(
            float(lrdsl.compile(text, total=100).values(list(range(100))).mean())
        )


# -- the example ------------------------------------------------------------------------------------------


def test_the_digits_example_trains_and_a_schedule_found_by_the_sweep_beats_the_default():
    pytest.importorskip("sklearn", reason="examples/digits_sweep.py needs scikit-learn")
    spec = importlib.util.spec_from_file_location("digits_sweep", ROOT / "examples" / "digits_sweep.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    template = (ROOT / "examples" / "sweep.yaml").read_text()
    config = sweep_config.load(ROOT / "examples" / "sweep.yaml")
    assert config.objective == "digits_sweep.py:objective" and "$peak" in template
    found = search.sample(config.template, {"warmup.T": 10, "$peak": 0.3, "phase2": "linear(end=0)"}, config.variables)
    search.check(config.template, config.variables, **config.compile)
    default_loss, _ = example.train(example.DEFAULT)
    found_loss, accuracy = example.train(found)
    assert found_loss < 0.8 * default_loss and accuracy > 0.95
