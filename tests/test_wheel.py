"""The built wheel works alone: configs ship inside it, and it runs outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO, read_metrics


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path):
    dist = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # setuptools warns in boxes of "!!" and names like SetuptoolsDeprecationWarning
    assert "!!" not in built.stderr and "Warning" not in built.stderr, built.stderr
    (wheel,) = dist.glob("lossbench-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Dependencies come from the test environment (torch etc. are large); lossbench itself
    # comes only from the wheel: the .pth adds a path but runs none of its editable hooks.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "--force-reinstall",  # also when this version is already installed
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    where = subprocess.run(
        [str(py), "-c", "import lossbench; print(lossbench.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(site)), where
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run(
        [
            str(venv / "bin" / "lossbench"),
            "run",
            "trainer.epochs=2",
            "trainer.progress=false",
            "dataset.n_samples=400",
            "hydra.run.dir=job",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_metrics(work / "job")["status"] == "completed"
