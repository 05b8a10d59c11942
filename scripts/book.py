#!/usr/bin/env python
"""Prepare the notebooks of nbs/ for Jupyter Book 1 and build the book offline.

Jupyter Book hides cells only by cell tags, so nbdev's `#|` directives would show verbatim. This script copies
nbs/ to book/, turns each directive into the tag that does the same in the book, strips the directive lines,
injects into the experiment chapter the parameters of the main job's run at τ = 0.2 (as papermill would), and then runs `jupyter-book build` with warnings as errors (-W), broken references as errors (-n), and
execution errors raised. A file in book/ is rewritten only when its content changes, so Sphinx and the
jupyter-cache re-execute only what was touched.

    python scripts/book.py             # prepare and build into _build/html
    python scripts/book.py --prepare   # prepare book/ only
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SRC, DST = ROOT / "nbs", ROOT / "book"

# nbdev directive -> Jupyter Book cell tag (None: drop the directive, keep the cell as it is)
TAGS = {"hide": "remove-cell", "default_exp": "remove-cell", "echo: false": "remove-input",
        "output: false": "remove-output", "eval: false": "skip-execution"}


def directives(source: str) -> tuple[list[str], str]:
    "Split a code cell into its `#|` directives and the rest of its source."
    lines = source.splitlines()
    found = [l[2:].strip() for l in lines if l.startswith("#|")]
    body = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
    return found, body


def prepare_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    "The notebook as the book shows it: directives turned into tags, directive lines removed, outputs cleared."
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        found, cell.source = directives(cell.source)
        tags = list(cell.metadata.get("tags", []))
        for d in found:
            key = "default_exp" if d.startswith("default_exp") else d.replace(" ", "").replace(":", ": ")
            tag = TAGS.get(key)
            if tag and tag not in tags:
                tags.append(tag)
        if tags:
            cell.metadata["tags"] = tags
        cell.outputs, cell.execution_count = [], None
    return nb


def book_run_parameters() -> dict:
    "The run the experiment chapter shows: the README's main job's (the default τ study's) run at τ = 0.2."
    from cl_book.experiments import SWEEPS, sweep_params
    return next(p for p in sweep_params(**SWEEPS["default"]) if p.get("tau") == 0.2)


def inject_book_run(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    "Inject `book_run_parameters()` below the parameters cell, as papermill does (the main job has trained that run)."
    from papermill.parameterize import parameterize_notebook
    nb.metadata.setdefault("papermill", {})  # papermill writes its record there and reads every cell's tags
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    nb = parameterize_notebook(nb, book_run_parameters(), comment="Parameters of the main job's run at tau = 0.2")
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        if not cell.metadata.get("tags"):
            cell.metadata.pop("tags", None)
    return nb


def write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def prepare(src: Path = SRC, dst: Path = DST) -> list[Path]:
    "Mirror `src` into `dst` (notebooks prepared, other files copied); remove what `src` no longer has."
    changed, keep = [], set()
    for path in sorted(src.rglob("*")):
        if path.is_dir() or ".ipynb_checkpoints" in path.parts:
            continue
        out = dst / path.relative_to(src)
        keep.add(out)
        if path.suffix == ".ipynb":
            nb = prepare_notebook(nbformat.read(path, as_version=4))
            if path.name == "experiment.ipynb":
                nb = inject_book_run(nb)
            text = nbformat.writes(nb) + "\n"
            if write_if_changed(out, text):
                changed.append(out)
        elif not out.exists() or out.read_bytes() != path.read_bytes():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
            changed.append(out)
    for path in sorted(dst.rglob("*"), reverse=True):
        if path.is_file() and path not in keep:
            path.unlink()
    return changed


def build(output: Path = ROOT / "_build") -> int:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--path-output", str(output.parent if output.name == "_build" else output),
           "-W", "-n", "--keep-going"]
    return subprocess.call(cmd, cwd=ROOT)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prepare", action="store_true", help="only prepare book/ from nbs/")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    changed = prepare()
    print(f"book/: {len(changed)} file(s) changed")
    if args.prepare:
        return 0
    rc = build()
    dt = time.perf_counter() - t0
    index = ROOT / "_build" / "html" / "index.html"
    if rc == 0:
        print(f"book built in {dt:.0f} s: open {index}")
    else:
        print(f"book build FAILED after {dt:.0f} s (exit {rc})", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
