"""papermill runs, sweeps and results: the injected τ is the τ that trained, finished runs are skipped, failures are
recorded, a killed sweep resumes without half-written records, unknown parameter names are errors."""
import json
import os
import signal
import subprocess
import time

import nbformat
import pytest

from cl_book.experiments import (check_params, config_from_params, experiment_notebook, load_runs, run_experiment,
                                 sweep, sweep_params)
from conftest import BIN

SMOKE = dict(preset="smoke", epochs=1)


def test_parameters_cell_is_tagged_and_typed():
    nb = nbformat.read(experiment_notebook(), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"], "the first code cell must carry papermill's tag"
    import papermill
    declared = papermill.inspect_notebook(str(experiment_notebook()))
    assert {"tau", "loss", "seed", "preset", "k", "alpha", "out_dir"} <= set(declared)
    assert declared["tau"]["inferred_type_name"] == "float" and declared["tau"]["help"]


def test_injected_tau_is_the_tau_that_trained_and_finished_runs_are_skipped(tmp_path):
    r = run_experiment({**SMOKE, "tau": 0.37}, tmp_path)
    assert r["status"] == "done", r
    run = tmp_path / r["name"]
    assert json.loads((run / "config.json").read_text())["tau"] == 0.37
    executed = nbformat.read(run / "experiment.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "tau = 0.37" in injected[0].source
    mtime = (run / "metrics.json").stat().st_mtime_ns
    again = run_experiment({**SMOKE, "tau": 0.37}, tmp_path)
    assert again["status"] == "skipped" and (run / "metrics.json").stat().st_mtime_ns == mtime


def test_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    params = [{**SMOKE, "dataset": "cifar10", "seed": 0}, {**SMOKE, "seed": 1}]  # no CIFAR10 on disk: fails
    os.environ["CL_BOOK_DATA"] = str(tmp_path / "no-data")
    try:
        res = sweep(params, tmp_path, jobs=1, progress=False)
    finally:
        del os.environ["CL_BOOK_DATA"]
    status = {r["name"]: r["status"] for r in res}
    assert sorted(status.values()) == ["done", "failed"]
    failed = next(n for n, s in status.items() if s == "failed")
    err = json.loads((tmp_path / failed / "error.json").read_text())
    assert "download=True" in err["message"]
    assert not (tmp_path / failed / "metrics.json").exists()
    table = load_runs(tmp_path)
    assert list(table["run"]) == [n for n, s in status.items() if s == "done"]
    assert len(load_runs(tmp_path, include_failed=True)) == 2


def test_unknown_parameter_names_are_errors_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="unknown parameter"):
        check_params({"temperature": 0.3})
    with pytest.raises(ValueError, match="unknown parameter"):
        sweep([{**SMOKE, "seed": 0}, {**SMOKE, "temprature": 0.5}], tmp_path, progress=False)
    assert not any(tmp_path.iterdir()), "nothing may run when one parameter set is wrong"
    res = subprocess.run([str(BIN / "cl-book"), "run", "--preset", "smoke", "--loss", "nce"], capture_output=True, text=True)
    assert res.returncode == 2 and "invalid choice" in res.stderr


def test_killed_sweep_resumes_and_leaves_no_half_written_record(tmp_path):
    cmd = [str(BIN / "cl-book"), "sweep", "--preset", "smoke", "--epochs", "1", "--tau", "0.1", "0.5", "0.9",
           "--runs-dir", str(tmp_path), "--jobs", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(tmp_path.glob("*/metrics.json"))) < 1:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its kernels, mid-way through the second run
    proc.wait()
    finished = {p.parent.name for p in tmp_path.glob("*/metrics.json")}
    assert 1 <= len(finished) < 3
    for p in tmp_path.glob("*/*.json"):
        json.loads(p.read_text())  # every record that exists is whole
    assert set(load_runs(tmp_path)["run"]) == finished
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(finished)} skipped" in out.stdout
    assert len(load_runs(tmp_path)) == 3


def test_results_command_prints_every_finished_run(tmp_path):
    assert run_experiment({**SMOKE, "loss": "simple"}, tmp_path)["status"] == "done"
    out = subprocess.run([str(BIN / "cl-book"), "results", "--runs-dir", str(tmp_path), "--format", "csv"],
                         capture_output=True, text=True)
    assert out.returncode == 0
    header, row = out.stdout.strip().splitlines()[:2]
    assert "knn_acc" in header and "simple" in row


def test_sweep_grid_and_run_names():
    ps = sweep_params(tau=[0.07, 1.0], loss=["contrastive", "hard-simple"], seed=[0, 1, 2], alpha=0.1, preset="cpu")
    assert len(ps) == 2 * 3 + 3
    names = {config_from_params(**p).out_dir for p in ps}
    assert len(names) == len(ps)  # different configurations never share a folder


def test_parallel_jobs_write_each_run_into_its_own_top_level_folder(tmp_path, monkeypatch):
    "Regression: papermill's cwd= chdir'ed the process, and a relative runs folder nested parallel runs."
    monkeypatch.chdir(tmp_path)
    res = sweep([{**SMOKE, "seed": 0}, {**SMOKE, "seed": 1}], "rel-runs", jobs=2, progress=False)
    assert sorted(r["status"] for r in res) == ["done", "done"]
    found = sorted(p.parent.relative_to(tmp_path / "rel-runs").as_posix() for p in tmp_path.glob("rel-runs/**/metrics.json"))
    assert found == sorted(r["name"] for r in res), found
