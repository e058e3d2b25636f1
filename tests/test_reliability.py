"""Fault cases of issue 11: one line and the right exit code, nothing lost or half-written.

Unit tests run in-process; a few end-to-end cases run the CLI (the ``cli`` fixture).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from lossbench import faults, io, provenance
from lossbench.errors import ConfigError
from lossbench.report.dedupe import dedupe
from lossbench.sweepdir import CLAIM_FILE, check_sweep_dir, fingerprint

FAST = ["trainer.epochs=2", "trainer.progress=false", "dataset.n_samples=400"]


def read_metrics(job_dir: Path) -> dict:
    return json.loads((job_dir / "metrics.json").read_text())

# -- files respect the umask ---------------------------------------------------------


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_respect_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        io.write_json(tmp_path / "m.json", {"a": 1})
        io.write_csv(tmp_path / "r.csv", [{"a": 1}])
        io.atomic_write_bytes(tmp_path / "p.npz", b"x")
    finally:
        os.umask(old)
    for name in ("m.json", "r.csv", "p.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_a_full_disk_leaves_no_half_written_file(tmp_path, monkeypatch):
    io.write_json(tmp_path / "metrics.json", {"old": True})
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def fileno(self):
            return self.fh.fileno()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as err:
        io.write_json(tmp_path / "metrics.json", {"new": True})
    assert err.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temp file left
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"old": True}


# -- run_guarded: one line, exit code --------------------------------------------------


def _raises(exc: BaseException):
    def fn():
        raise exc

    return fn


def test_guard_exit_codes(capsys, monkeypatch):
    from hydra.errors import MissingConfigException

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    assert faults.run_guarded(_raises(KeyboardInterrupt())) == 130
    assert faults.run_guarded(_raises(ConfigError("trainer.epochs must be ..."))) == 2
    assert faults.run_guarded(_raises(OSError(errno.ENOSPC, "No space", "out/x.json"))) == 1
    assert (
        faults.run_guarded(_raises(PermissionError(errno.EACCES, "Permission denied", "/ro"))) == 1
    )
    missing = MissingConfigException(
        "In 'config': Could not find 'loss/foo'\n\nAvailable options in 'loss':\n\tce\n\tfocal",
        "loss/foo",
        ["ce", "focal"],
    )
    assert faults.run_guarded(_raises(missing)) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 5, err
    assert "no space left on device" in lines[2]
    assert "Available options in 'loss': ce, focal" in lines[4]
    with pytest.raises(ZeroDivisionError):  # a bug is not hidden
        faults.run_guarded(_raises(ZeroDivisionError()))
    assert "HYDRA_FULL_ERROR" not in os.environ


def test_guard_yaml_error_names_the_file(tmp_path):
    import yaml

    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(yaml.YAMLError) as err:
        yaml.safe_load(bad.open())
    line = faults.hydra_error_line(err.value)
    assert line is not None and "bad.yaml" in line and "\n" not in line


# -- the sweep directory guard ---------------------------------------------------------


def _sweep_cfg(*overrides: str, epochs: int = 3) -> dict:
    return {
        "seed": 0,
        "trainer": {"epochs": epochs, "progress": True},
        "report": {"metric": "auto"},
        "hydra": {"overrides": {"task": list(overrides)}, "sweeper": {"params": {}}},
    }


def test_same_sweep_resumes_a_different_one_is_refused(tmp_path):
    first = _sweep_cfg("seed=0,1")
    assert check_sweep_dir(tmp_path, first) is None
    assert (tmp_path / CLAIM_FILE).is_file()
    assert check_sweep_dir(tmp_path, _sweep_cfg("seed=0,1", "report.metric=mse")) is None
    reason = check_sweep_dir(tmp_path, _sweep_cfg("seed=2,3"))
    assert reason is not None and "hydra.sweep.dir" in reason and "\n" not in reason
    assert check_sweep_dir(tmp_path, _sweep_cfg("seed=0,1", epochs=4)) is not None


def test_records_without_a_claim_are_compared_through_multirun_yaml(tmp_path):
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "metrics.json").write_text("{}")
    OmegaConf.save(OmegaConf.create(_sweep_cfg("seed=0,1")), tmp_path / "multirun.yaml")
    assert check_sweep_dir(tmp_path, _sweep_cfg("seed=5")) is not None
    assert check_sweep_dir(tmp_path, _sweep_cfg("seed=0,1")) is None


def test_fingerprint_ignores_report_and_progress():
    a = _sweep_cfg("seed=0,1")
    b = _sweep_cfg("seed=0,1", "report.alpha=0.1")
    b["report"] = {"metric": "mse"}
    b["trainer"]["progress"] = False
    assert fingerprint(a) == fingerprint(b)


# -- report de-duplication -------------------------------------------------------------


def test_dedupe_keeps_one_record_per_hash_and_seed_preferring_the_original():
    recs = [
        {"config_hash": "h1", "seed": 0, "resumed_from": "/a/0"},
        {"config_hash": "h1", "seed": 0},
        {"config_hash": "h1", "seed": 1},
        {"config_hash": "h2", "seed": 0},
        {"config_hash": None, "seed": 0},
        {"config_hash": None, "seed": 0},
    ]
    files = [Path(f"/r/{i}/metrics.json") for i in range(len(recs))]
    kept_files, kept, dropped = dedupe(files, recs)
    assert dropped == 1
    assert [f.parent.name for f in kept_files] == ["1", "2", "3", "4", "5"]
    assert "resumed_from" not in kept[0]


# -- provenance: user modules and lossbench's own code ----------------------------------


def test_config_hash_follows_the_users_module_source(tmp_path, monkeypatch):
    from lossbench.resume import config_hash

    mod = tmp_path / "prov_user_loss.py"
    mod.write_text("def my_loss(pred, target):\n    return (pred - target).abs().mean()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = OmegaConf.create({"seed": 0, "loss": {"_target_": "prov_user_loss.my_loss"}})
    before = config_hash(cfg)
    assert config_hash(cfg) == before
    assert "prov_user_loss.my_loss" in provenance.user_sources(cfg)
    mod.write_text("def my_loss(pred, target):\n    return (pred - target).pow(2).mean()\n")
    assert config_hash(cfg) != before


def test_library_targets_are_not_user_sources():
    cfg = {
        "loss": {"_target_": "lossbench.losses.FocalLoss"},
        "optimizer": {"_target_": "torch.optim.Adam"},
        "x": {"_target_": "numpy.mean"},
    }
    assert provenance.user_sources(cfg) == {}


def test_versions_record_lossbench_and_the_users_repo_separately(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    v = provenance.versions()
    assert v["user_repo"] == {"commit": head.strip(), "dirty": False}
    assert v["git_commit"] != head.strip()  # lossbench's own commit, never the user's HEAD
    assert len(v["lossbench_source"]) == 16


# -- data errors in the user's CSV -------------------------------------------------------


@pytest.mark.parametrize("cell", ["1e300", "inf", "-inf"])
def test_csv_nonfinite_cell_names_file_and_column(tmp_path, cell):
    from lossbench.data.user_csv import csv

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"a": rng.normal(size=60), "b": rng.normal(size=60), "y": rng.integers(0, 2, 60)}
    )
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    text = path.read_text().splitlines()
    row = text[5].split(",")
    row[1] = cell
    text[5] = ",".join(row)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ConfigError) as err:
        csv(path=str(path), target="y")
    assert str(path) in str(err.value) and "column b" in str(err.value)
    assert "line 6" in str(err.value)


# -- end to end ------------------------------------------------------------------------


def test_cli_config_mistakes_exit_2_with_one_line(cli, tmp_path):
    (tmp_path / "conf" / "loss").mkdir(parents=True)
    (tmp_path / "conf" / "loss" / "mine.yaml").write_text("_target_: [unclosed\n")
    cases = [
        (["run", "loss=nosuch"], "Available options in 'loss': asymmetric,"),
        (["run", "+trainer.epoch=5"], "did you mean trainer.epochs?"),
        (["run", "trainer.epoch=5"], "trainer.epoch is not a key; did you mean trainer.epochs?"),
        (["run", "loss=focal", "loss.gama=2"], "loss.gama is not a key; did you mean loss.gamma?"),
        (["run", "dataset=csv"], "dataset.path is required"),
        (["run", "--config-dir", "conf", "loss=mine"], "malformed YAML"),
        (["run", "trainer.fail_on_nan=maybe"], "trainer.fail_on_nan"),
        (["run", "loss.reduction=none"], "loss.reduction"),
        (["run", "loss=custom", "loss._target_=os.rename"], "refused"),
    ]
    for args, text in cases:
        proc = cli(*args, check=False)
        err = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(err) == 1 and text in err[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr


@pytest.mark.slow  # a sweep or a subprocess: seconds
def test_a_bad_seed_in_a_sweep_fails_that_job_only(cli, tmp_path):
    proc = cli("run", "-m", "seed=0,abc", "hydra.sweep.dir=sw", *FAST, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert read_metrics(tmp_path / "sw" / "0")["status"] == "completed"
    bad = read_metrics(tmp_path / "sw" / "1")
    assert bad["status"] == "failed" and "seed" in bad["error"]
    assert (tmp_path / "sw" / "results.csv").is_file()


@pytest.mark.slow  # a sweep or a subprocess: seconds
def test_a_reused_sweep_dir_holding_another_sweep_is_refused(cli, tmp_path):
    cli("run", "-m", "seed=0", "hydra.sweep.dir=sw", *FAST)
    first = read_metrics(tmp_path / "sw" / "0")
    proc = cli("run", "-m", "seed=1", "hydra.sweep.dir=sw", *FAST, check=False)
    assert proc.returncode == 2 and "already holds a different sweep" in proc.stderr
    assert read_metrics(tmp_path / "sw" / "0") == first
    again = cli("run", "-m", "seed=0", "hydra.sweep.dir=sw", *FAST)  # the same sweep resumes
    assert "resumed" in again.stdout


_PARENT = """
import multiprocessing as mp, os, time

def worker(queue):
    from lossbench.faults import exit_with_parent

    exit_with_parent(interval_s=0.2)
    queue.put(os.getpid())
    time.sleep(60)

if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ctx.Process(target=worker, args=(q,)).start()
    print(q.get(), flush=True)
    time.sleep(60)
"""


@pytest.mark.slow  # a sweep or a subprocess: seconds
def test_a_worker_ends_when_the_main_process_is_killed(tmp_path):
    import signal
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the worker outlived its killed parent by 10 s")


@pytest.mark.slow  # a sweep or a subprocess: seconds
def test_report_over_a_sweep_and_its_resumed_copy_counts_each_seed_once(cli, tmp_path):
    from lossbench.report.collect import load

    cli("run", "-m", "seed=0,1", "hydra.sweep.dir=a", *FAST)
    again = cli("run", "-m", "seed=0,1", "hydra.sweep.dir=b", "report.resume_from=[a]", *FAST)
    assert again.stdout.count("resumed") >= 2
    assert read_metrics(tmp_path / "b" / "0").get("resumed_from")
    results = load([tmp_path / "a", tmp_path / "b"])
    assert sorted(results.df["seed"]) == [0, 1]
    assert not results.df["resumed_from"].notna().any()  # the originals are kept


def test_report_metric_is_checked_before_any_training(cli, tmp_path):
    """A metric no task reports stops the sweep at once; one of another task fails the
    job before its first epoch (not after the whole sweep has trained)."""
    proc = cli("run", "-m", "report.metric=foo", "hydra.sweep.dir=a", *FAST, check=False)
    assert proc.returncode == 2 and "report.metric=foo" in proc.stderr
    assert not list(tmp_path.rglob("history.csv"))
    proc = cli("run", "report.metric=mse", *FAST, check=False)
    assert proc.returncode == 2 and "report.metric=mse is not a classification metric" in (
        proc.stderr
    )
    assert not list(tmp_path.rglob("history.csv"))
    cli("run", "report.metric=recall_class_1", *FAST)  # a family member is fine
