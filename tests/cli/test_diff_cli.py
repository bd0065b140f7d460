"""`graphstep diff`, run as a user would run it, with counts checked against networkx."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def graphstep(*args: str) -> subprocess.CompletedProcess:
    code = "import sys\nfrom inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True
    )


def test_diff_of_two_inputs_of_a_dynamic_model_as_json():
    from inspectors.capture import capture
    from inspectors.target import load_target

    out = graphstep("diff", "dynamic_torch", "dynamic_torch@other_inputs", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in (
        "only_a",
        "only_b",
        "common",
        "edges_only_a",
        "edges_only_b",
        "edges_common",
        "summary",
    ):
        assert key in data, key
    # fx cannot trace the model, so both sides are eager recordings.
    assert data["a"]["capture"] == "eager" and data["b"]["capture"] == "eager"

    a = capture(load_target("dynamic_torch"), "eager").graph
    b = capture(load_target("dynamic_torch@other_inputs"), "eager").graph
    assert len(data["only_a"]) + len(data["common"]) == a.nx.number_of_nodes()
    assert len(data["only_b"]) + len(data["common"]) == b.nx.number_of_nodes()
    assert {x for x, _ in data["common"]} | set(data["only_a"]) == set(a.nx.nodes)
    assert {y for _, y in data["common"]} | set(data["only_b"]) == set(b.nx.nodes)
    edges_a, edges_b = set(a.nx.edges()), set(b.nx.edges())
    assert len(data["edges_only_a"]) + len(data["edges_common"]) == len(edges_a)
    assert len(data["edges_only_b"]) + len(data["edges_common"]) == len(edges_b)
    assert {tuple(e) for e, _ in data["edges_common"]} <= edges_a
    assert {tuple(e) for _, e in data["edges_common"]} <= edges_b
    assert data["only_a"] and data["only_b"]
    assert data["summary"]["common"] == len(data["common"])
    assert data["first_divergence"]["b"] in data["only_b"]


def test_diff_plain_output_says_where_the_runs_part():
    out = graphstep("diff", "dynamic_torch", "dynamic_torch@other_inputs")
    assert out.returncode == 0, out.stderr
    assert "only in A" in out.stdout and "only in B" in out.stdout
    assert "the executions part at" in out.stdout


def test_diff_of_a_torch_and_a_keras_model_lists_matched_layers():
    out = graphstep("diff", "feedforward_torch", "feedforward_keras", "--json")
    assert out.returncode == 0, out.stderr
    layers = dict(json.loads(out.stdout)["layers"])
    assert layers["fc1"].endswith("fc1_1/MatMul") and layers["fc2"].endswith("fc2_1/MatMul")


def test_diff_of_a_bad_spec_exits_2_with_a_message():
    out = graphstep("diff", "dynamic_torch", "no_such_model_anywhere", "--json")
    assert out.returncode == 2
    assert "no_such_model_anywhere" in out.stderr
    assert "Traceback" not in out.stderr

    out = graphstep("diff", "dynamic_torch", "dynamic_torch@nowhere")
    assert out.returncode == 2
    assert "has no inputs function 'nowhere'" in out.stderr
