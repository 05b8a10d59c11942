"The project's own invariants: notebooks pass as tests, and the library and notebooks are what nbdev makes of them."
import json
import shutil
import sys
from pathlib import Path

import nbformat

from conftest import BIN, ROOT, run


def test_every_notebook_runs_as_a_test():
    # all but the experiment notebook, which trains a full run: the book build executes it with the main job's
    # parameters, and tests/test_experiments.py runs it through papermill and cl-book
    res = run([str(BIN / "nbdev-test"), "--n-workers", "2", "--skip-file-re", "^experiment"])
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-5000:]


def copy_project(tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    dst.mkdir()
    for name in ("nbs", "cl_book"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(ROOT / "pyproject.toml", dst)
    return dst


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_nbdev_export_leaves_the_library_unchanged(tmp_path):
    proj = copy_project(tmp_path)
    before = snapshot(proj / "cl_book")
    res = run([str(BIN / "nbdev-export")], cwd=proj)
    assert res.returncode == 0, res.stderr
    after = snapshot(proj / "cl_book")
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"cl_book/ is out of step with nbs/: run nbdev-export and commit {changed}"


def test_nbdev_clean_leaves_the_notebooks_unchanged(tmp_path):
    proj = copy_project(tmp_path)
    before = snapshot(proj / "nbs")
    res = run([str(BIN / "nbdev-clean")], cwd=proj)
    assert res.returncode == 0, res.stderr
    after = snapshot(proj / "nbs")
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert not changed, f"notebooks are not clean: run nbdev-clean and commit {changed}"


def test_nbdev_clean_keeps_the_papermill_parameters_tag(tmp_path):
    "nbdev-clean strips cell tags by default; papermill would then run with the notebook's own defaults."
    proj = copy_project(tmp_path)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("tau: float = 0.2", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("tau")])
    path = proj / "nbs" / "zz_param_probe.ipynb"
    nbformat.write(nb, path)
    res = run([str(BIN / "nbdev-clean"), "--fname", str(path)], cwd=proj)
    assert res.returncode == 0, res.stderr
    cleaned = json.loads(path.read_text())
    assert cleaned["cells"][0]["metadata"].get("tags") == ["parameters"]


def test_library_imports_without_the_book_tooling():
    "The library alone must not need matplotlib, seaborn, nbdev or myst_nb at import time."
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in {'matplotlib', 'seaborn', 'nbdev', 'myst_nb', 'papermill', 'fastcore'}:\n"
            "            raise ImportError('blocked ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import cl_book.loss, cl_book.gradients, cl_book.metrics\n"
            "print('ok')\n")
    res = run([sys.executable, "-c", code])
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
