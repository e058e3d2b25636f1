"""Start-up: a run imports only what it uses (``--help``/``list`` are in test_cli)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import FAST, REPO


@pytest.mark.slow  # a whole run in a fresh interpreter
def test_run_does_not_import_plotting_or_dynamo(tmp_path):
    code = (
        "import sys, contextlib, io\n"
        "from lossbench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['run', *{FAST!r}, 'hydra.run.dir={tmp_path}/job'])\n"
        "unused = ('matplotlib', 'seaborn', 'torch._dynamo')\n"
        "print(sorted(m for m in unused if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
