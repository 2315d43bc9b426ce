"""`lrdsl serve`'s JSON API: as plain functions (lrdsl.serve.api), over HTTP (limits, bad input,
unknown routes, the time limit), and the worker pool that bounds an evaluation's time."""

import importlib.util
import json
import math
import operator
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import lrdsl
from lrdsl.cli import main
from lrdsl.listing import node_doc
from lrdsl.plugins import build_registry, default_registry
from lrdsl.serve import api
from lrdsl.serve.server import MAX_BODY
from lrdsl.serve.workers import TimeLimitError, WorkerError, WorkerPool
from serving import request, running_server

# A 44 KB schedule (under the body limit) whose 200,000 points take tens of seconds to evaluate.
README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
SLOW = "max(0, " + ", ".join(f"sin(it/{k}) * cosine(T={k})" for k in range(1, 1500)) + ")"


def error_of(text, **options):
    with pytest.raises(lrdsl.LRDSLError) as caught:
        lrdsl.compile(text, **options)
    return caught.value


def cli_stderr(capsys, *argv):
    assert main(list(argv)) == 2
    return capsys.readouterr().err


# -- /api/eval as a function ------------------------------------------------------------------------


def test_eval_at_points_gives_the_schedule_values_and_its_phases():
    text = "warmup(5%)  # a comment\nthen cosine(end=1e-5)"
    sched = lrdsl.compile(text, base=3e-4, total="90ep", steps_per_epoch=500)
    answer = api.evaluate(
        {"expression": text, "base": 3e-4, "total": "90ep", "steps_per_epoch": 500, "at": [0, 10, 2250, 44999]}
    )
    assert answer["expression"] == sched.expression == "warmup(5%) then cosine(end=1e-05)"
    assert answer["values"] == [sched(p) for p in (0, 10, 2250, 44999)]
    assert answer["phase_starts"] == sched.phase_starts("it") == [0.0, 2250.0]
    assert answer["phase_spans"] == [[0.0, 2250.0], [2250.0, 45000.0]]
    assert (answer["counter"], answer["clock"], answer["window"]) == ("it", "iterations", 45000.0)
    json.dumps(answer, allow_nan=False)  # plain JSON


def test_numbers_may_be_strings_as_on_the_command_line():
    given = api.evaluate({"expression": "step(s=10)", "base": "3e-4", "total": "100", "at": [15]})
    assert given["values"] == [lrdsl.compile("step(s=10)", base=3e-4, total=100)(15)]


def test_a_range_defaults_to_the_window_in_whole_iterations():
    answer = api.evaluate({"expression": "warmup(T=10) then cosine(T=40)"})  # no total: the phases' ends
    assert answer["points"] == list(np.arange(51.0))  # 1000 points over 0..50, rounded, repeats dropped
    sched = lrdsl.compile("warmup(T=10) then cosine(T=40)")
    assert answer["values"] == sched.values(np.arange(51.0)).tolist()
    assert answer["phase_spans"] == [[0.0, 10.0], [10.0, None]]  # the last phase has no end: null in JSON


def test_a_range_gives_evenly_spaced_points_when_not_whole():
    answer = api.evaluate({"expression": "cosine(T=7)", "range": {"start": 1, "stop": 2, "num": 5, "whole": False}})
    assert answer["points"] == np.linspace(1, 2, 5).tolist()
    assert answer["values"] == lrdsl.compile("cosine(T=7)").values(np.linspace(1, 2, 5)).tolist()


def test_eval_by_epochs_and_the_counter_defaults_to_the_clock():
    options = {"expression": "warmup(2ep) then cosine()", "total": "10ep"}
    by_clock = api.evaluate({**options, "at": [1, 5]})
    assert by_clock["counter"] == "ep" and by_clock["clock"] == "epochs"
    sched = lrdsl.compile("warmup(2ep) then cosine()", total="10ep", steps_per_epoch=100)
    by_iteration = api.evaluate({**options, "steps_per_epoch": 100, "counter": "ep", "at": [1, 5]})
    assert by_iteration["values"] == [sched(epoch=1), sched(epoch=5)] == by_clock["values"]
    assert by_iteration["phase_starts"] == [0.0, 2.0]


def test_restarts_are_where_the_value_jumps_up():
    answer = api.evaluate({"expression": "warmup(T=5) then sgdr(T=10, mult=2)", "range": {"stop": 200}})
    assert answer["restarts"] == [15.0, 35.0, 75.0, 155.0]  # 5 + 10, + 20, + 40, + 80


def test_variables_are_passed_like_the_cli_vars():
    answer = api.evaluate({"expression": "warmup($w) then cosine()", "total": 100, "variables": {"w": 10}, "at": [5]})
    assert answer["values"] == [lrdsl.compile("warmup($w) then cosine()", total=100, variables={"w": 10})(5)]
    answer = api.evaluate({"expression": "warmup($w) then cosine()", "total": 100, "variables": {"w": "10%"}})
    assert answer["phase_starts"] == [0.0, 10.0]


# -- errors, as the CLI prints them -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, options, where",
    [
        ("warmup(5%) thn cosine()", {"total": 100}, (1, 12)),  # a syntax error: the caret under 'thn'
        ("# first line\nwarmup(5%) then cosin()", {"total": 100}, (2, 17)),  # an unknown name, line 2
        ("warmup(5%) then cosine()", {}, (1, 1)),  # 5% needs a total: the warmup's
    ],
)
def test_errors_are_the_cli_errors_with_line_and_column(capsys, text, options, where):
    status, body = api.handle("eval", {"expression": text, **options})
    error = error_of(text, **options)
    assert status == 422
    assert body["error"]["message"] == str(error)
    assert body["error"]["type"] == type(error).__name__
    argv = ["check", text] + (["--total", str(options["total"])] if options else [])
    assert body["error"]["cli"] + "\n" == cli_stderr(capsys, *argv)
    assert (body["error"]["line"], body["error"]["column"]) == where


def test_a_syntax_error_shows_the_caret_under_the_character():
    _, body = api.handle("eval", {"expression": "warmup(5%) thn cosine()", "total": 100})
    source, caret = body["error"]["message"].splitlines()[1:3]
    assert source[caret.index("^") :].startswith("thn")


def test_an_evaluation_error_is_refused_like_the_language():
    status, body = api.handle("eval", {"expression": "cosine(T=10) - 0.5", "at": [9]})
    assert status == 422 and body["error"]["type"] == "EvaluationError"
    assert "a learning rate must be finite and >= 0" in body["error"]["message"]


@pytest.mark.parametrize(
    "payload, message",
    [
        ("cosine()", "the request must be a JSON object, got a string"),
        ({"base": 1}, "expression: expected the schedule as a string, got null"),
        ({"expression": "cosine(T=5)", "steps": 3}, "unknown field(s) 'steps'"),
        ({"expression": "cosine(T=5)", "at": 5}, "at: expected an array of numbers, got a number"),
        ({"expression": "cosine(T=5)", "at": [1, "2"]}, "at[]: expected a finite number, got '2'"),
        ({"expression": "cosine(T=5)", "at": [1], "range": {}}, "give at or range, not both"),
        ({"expression": "cosine(T=5)", "range": {"num": 10**6}}, "range.num: expected a whole number of points from 1"),
        ({"expression": "cosine(T=5)", "range": {"num": True}}, "range.num: expected a whole number"),
        ({"expression": "cosine(T=5)", "range": {"step": 1}}, "range: expected"),
        ({"expression": "cosine(T=5)", "range": {"stop": 1e400}}, "range.stop: expected a finite number"),
        ({"expression": "cosine(T=5)", "at": [0] * (api.MAX_POINTS + 1)}, "the limit is 200,000"),
        ({"expression": "cosine(T=5)", "variables": [1]}, "variables: expected an object"),
        ({"expression": "cosine(T=5)", "base": [1]}, "base: expected a number or a string, got an array"),
        ({"expression": "cosine(T=5)", "counter": "days"}, "counter: expected one of 'it', 'ep', 'tok', 'sp'"),
    ],
)
def test_a_bad_request_is_a_400_saying_what_was_expected(payload, message):
    status, body = api.handle("eval", payload)
    assert status == 400 and body["error"]["type"] == "RequestError"
    assert message in body["error"]["message"]


def test_a_bad_option_value_is_the_language_error():
    status, body = api.handle("eval", {"expression": "cosine(T=5)", "base": "fast"})
    assert status == 422 and body["error"]["message"] == str(error_of("cosine(T=5)", base="fast"))


def test_an_unknown_route_is_a_404_listing_the_routes():
    status, body = api.handle("plot", {"expression": "cosine(T=5)"})
    assert status == 404
    assert "POST /api/eval, POST /api/check, POST /api/explain, GET /api/nodes" in body["error"]["message"]


# -- /api/check and /api/nodes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, argv",
    [
        ("warmup(5%) then cosine(T=50ep)", ["--total", "100ep", "--steps-per-epoch", "500"]),
        ("-0.1 * cosine(T=100)", []),
        ("warmup(T=10) then cosine(T=90)", ["--total", "100"]),
    ],
)
def test_check_answers_what_lrdsl_check_json_prints(capsys, text, argv):
    main(["check", text, "--json", *argv])
    printed = json.loads(capsys.readouterr().out)
    options = dict(zip(argv[::2], argv[1::2]))
    answer = api.check(
        {"expression": text, "total": options.get("--total"), "steps_per_epoch": options.get("--steps-per-epoch")}
    )
    assert answer == printed


def test_explain_answers_what_lrdsl_explain_json_prints_and_its_text(capsys):
    argv = ["--total", "90ep", "--steps-per-epoch", "100", "--base", "0.1"]
    main(["explain", "warmup(5%) then cosine(end=1e-5)", "--json", *argv])
    printed = json.loads(capsys.readouterr().out)
    request = {"expression": "warmup(5%) then cosine(end=1e-5)", "total": "90ep", "steps_per_epoch": 100, "base": 0.1}
    answer = api.explain(request)
    main(["explain", "warmup(5%) then cosine(end=1e-5)", *argv])
    assert answer.pop("text") == capsys.readouterr().out.rstrip("\n")
    assert answer == printed
    status, body = api.handle("explain", {**request, "expression": "warmpu(5%)"})
    assert status == 422 and "did you mean 'warmup'" in body["error"]["message"]


def test_the_catalog_lists_every_node_with_its_documentation():
    registry = default_registry()
    listed = {node["name"]: node for node in api.nodes()["nodes"]}
    assert set(listed) == {spec.name for spec in registry}
    cosine = listed["cosine"]
    assert cosine["doc"] == node_doc("cosine")
    assert "Cosine annealing" in cosine["doc"] and "parameters:" in cosine["doc"]
    assert (cosine["kind"], cosine["signature"], cosine["call"]) == ("schedule", "cosine(T, end=0, base=b)", "cosine()")
    assert listed["piecewise"]["call"] == "piecewise(at=, values=)"


def test_a_call_without_parameters_to_fill_compiles_as_inserted():
    for node in api.nodes()["nodes"]:
        if node["kind"] == "schedule" and "=" not in node["call"]:
            lrdsl.compile(f"warmup(T=5) then {node['call']}", total=100)


def test_the_catalog_includes_plugins(tmp_path):
    code = re.findall(r"```python\n(.*?)```", README.split("### Writing a plugin", 1)[1], flags=re.S)[0]
    (tmp_path / "my_lrdsl_nodes.py").write_text(code)  # the README's plugin, as a module
    spec = importlib.util.spec_from_file_location("my_lrdsl_nodes", tmp_path / "my_lrdsl_nodes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry = build_registry(entry_points=False, plugins={"my-lrdsl-nodes": module})
    listed = {node["name"]: node for node in api.nodes(registry)["nodes"]}
    assert listed["sqrt_decay"]["source"] == "my-lrdsl-nodes"
    assert listed["sqrt_decay"]["doc"] == node_doc("sqrt_decay", registry)


# -- over HTTP -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with running_server(workers=2, timeout=3.0) as running:
        yield running


def test_the_page_and_its_files_are_served_with_nothing_from_elsewhere(server):
    status, page, response = request(server, "GET", "/")
    assert status == 200 and response.getheader("Content-Type").startswith("text/html")
    assert '<script src="/static/app.js"' in page and 'href="/static/style.css"' in page
    for path in ("/static/app.js", "/static/style.css"):
        status, text, _ = request(server, "GET", path)
        assert status == 200 and len(text) > 1000
        assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", text), path  # no CDN, no remote fetch
    assert not re.findall(r"https?://", page)


def test_eval_over_http_is_the_function(server):
    payload = {"expression": "warmup(5%) then cosine()", "total": "90ep", "steps_per_epoch": 500, "range": {"num": 300}}
    status, body, _ = request(server, "POST", "/api/eval", payload)
    assert status == 200 and body == api.evaluate(payload)


def test_errors_over_http(server):
    status, body, _ = request(server, "POST", "/api/eval", {"expression": "warmup(5%) thn cosine()", "total": 100})
    assert status == 422 and body["error"]["message"] == str(error_of("warmup(5%) thn cosine()", total=100))
    status, body, _ = request(server, "POST", "/api/eval", {"expression": "cosine()", "range": {"num": 10**7}})
    assert status == 400 and "range.num" in body["error"]["message"]


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"expression": "cosine(T=5)", "at": [0, 5', "the body is not valid JSON"),
        (b"\xff\xfe", "the body is not valid JSON"),
        (b"[" * 30_000 + b"]" * 30_000, "the body is not valid JSON"),  # nested past the parser's recursion
        (b'["cosine(T=5)"]', "the body must be a JSON object"),
    ],
    ids=["cut-short", "not-utf8", "nested-deep", "an-array"],
)
def test_malformed_json_is_a_400(server, body, message):
    status, answer, _ = request(server, "POST", "/api/eval", body)
    assert status == 400 and answer["error"]["message"].startswith(message)


def test_a_1mb_body_is_refused_and_the_server_goes_on(server):
    body = json.dumps({"expression": "cosine(T=5)", "at": [1.0] * 200_000}).encode()
    assert len(body) > 1_000_000
    status, answer, _ = request(server, "POST", "/api/eval", body)
    assert status == 413 and f"the limit is {MAX_BODY:,}" in answer["error"]["message"]
    assert request(server, "POST", "/api/eval", {"expression": "cosine(T=5)", "at": [1]})[0] == 200


def test_a_post_without_its_length_is_refused(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=60) as connection:
        connection.sendall(b"POST /api/eval HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        reply = connection.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 411") and "Content-Length" in reply


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/nope", 404),
        ("GET", "/static/../server.py", 404),
        ("POST", "/api/plot", 404),
        ("GET", "/api/eval", 405),
    ],
)
def test_unknown_routes_and_wrong_methods(server, method, path, status):
    got, body, _ = request(server, method, path, {} if method == "POST" else None)
    assert got == status and body["error"]["status"] == status


def test_the_node_catalog_over_http(server):
    status, body, _ = request(server, "GET", "/api/nodes")
    assert status == 200 and body == api.nodes()


def test_a_request_for_another_host_is_refused(server):
    status, body, _ = request(server, "GET", "/api/nodes", headers={"Host": "attacker.example:8765"})
    assert status == 403 and "127.0.0.1 or localhost" in body["error"]["message"]
    assert request(server, "GET", "/", headers={"Host": "localhost:1"})[0] == 200


def test_a_schedule_past_the_time_limit_is_stopped_and_the_server_goes_on(server):
    payload = {"expression": SLOW, "range": {"num": api.MAX_POINTS, "stop": 1e6}}
    assert len(json.dumps(payload)) < MAX_BODY
    status, body, _ = request(server, "POST", "/api/eval", payload)
    assert status == 422 and body["error"]["type"] == "TimeLimitError"
    assert "took longer than 3 s" in body["error"]["message"]
    status, body, _ = request(server, "POST", "/api/check", {"expression": "cosine(T=10)"})
    assert status == 200 and body["status"] == "ok"


# -- the worker pool ----------------------------------------------------------------------------------------


def test_a_stuck_worker_is_killed_and_does_not_block_the_others():
    pool = WorkerPool(size=2, timeout=10)
    try:
        stuck = {}

        def run_stuck():
            try:
                pool.run(time.sleep, 3600)
            except TimeLimitError as error:
                stuck["error"] = error

        thread = threading.Thread(target=run_stuck)
        thread.start()
        assert pool.run(operator.add, 1, 2) == 3  # the other worker answers meanwhile
        assert thread.is_alive()  # the stuck one is still within its limit
        thread.join(timeout=120)
        assert "took longer than 10 s" in str(stuck["error"])
        assert [pool.run(math.sqrt, 16.0), pool.run(math.sqrt, 25.0)] == [4.0, 5.0]  # replaced: two workers again
    finally:
        pool.close()


def test_a_function_that_raises_is_a_worker_error_and_the_worker_goes_on():
    pool = WorkerPool(size=1, timeout=60)
    try:
        with pytest.raises(WorkerError, match="ValueError: math domain error"):
            pool.run(math.sqrt, -1.0)
        assert pool.run(math.sqrt, 9.0) == 3.0
    finally:
        pool.close()


def test_a_pool_needs_a_worker_and_a_time_limit():
    with pytest.raises(lrdsl.LRDSLError, match="size >= 1 and timeout > 0"):
        WorkerPool(size=0)


# -- the command ----------------------------------------------------------------------------------------------


def test_lrdsl_serve_serves_until_interrupted():
    command = [sys.executable, "-m", "lrdsl.cli", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.fullmatch(r"lrdsl playground at (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C to stop\)\n", line)
        assert url, line
        port = int(url[2])
        server = type("Bound", (), {"server_address": ("127.0.0.1", port)})
        status, body, _ = request(server, "POST", "/api/eval", {"expression": "cosine(T=10)", "at": [5]})
        assert status == 200 and body["values"] == [lrdsl.compile("cosine(T=10)")(5)]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped" in err


def test_lrdsl_serve_on_a_busy_port_says_so(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert f"error: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
