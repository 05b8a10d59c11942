import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(cmd, cwd=ROOT, timeout=1800, **kw):
    "Run a command, returning CompletedProcess; the output is kept for the assertion message."
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="session")
def built_book():
    "Build the book once per test session (cached execution keeps a rebuild short); the html folder."
    res = run([sys.executable, str(ROOT / "scripts" / "book.py")])
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-5000:]
    return ROOT / "_build" / "html"
