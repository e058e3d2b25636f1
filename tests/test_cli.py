"""The ``lossbench`` command end to end: run it (in-process; a few through the installed
console script), read the files it wrote."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST, REPO, read_metrics


def _job_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("metrics.json"))


def test_run_writes_metrics_and_history(cli, tmp_path):
    proc = cli("run", *FAST, "hydra.run.dir=job")
    record = read_metrics(tmp_path / "job")
    assert record["status"] == "completed"
    assert record["choices"] == {
        "dataset": "imbalanced",
        "model": "mlp",
        "loss": "ce",
        "optimizer": "adam",
        "sampler": "none",
    }
    assert record["seed"] == 0 and record["epochs_run"] == 3
    for key in (
        "accuracy",
        "balanced_accuracy",
        "macro_f1",
        "recall_class_0",
        "recall_class_1",
        "roc_auc",
        "average_precision",
    ):
        assert 0.0 <= record["metrics"][key] <= 1.0, key
    assert record["versions"]["torch"] and record["versions"]["lossbench"]
    with open(tmp_path / "job" / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_balanced_accuracy"} <= set(rows[0])
    assert (tmp_path / "job" / ".hydra" / "config.yaml").exists()
    assert "balanced_accuracy" in proc.stdout  # the console table


@pytest.mark.slow
def test_seed_example_asymmetric_rmsprop(cli, tmp_path):
    cli(
        "run",
        "loss=asymmetric",
        "loss.class_weights=[0.5,2.0]",
        "optimizer=rmsprop",
        "trainer.epochs=4",
        "seed=3",
        "trainer.progress=false",
        "hydra.run.dir=job",
    )
    record = read_metrics(tmp_path / "job")
    assert record["status"] == "completed" and record["seed"] == 3
    assert record["choices"]["loss"] == "asymmetric" and record["choices"]["optimizer"] == "rmsprop"


@pytest.mark.slow
def test_same_seed_same_metrics_different_seed_differs(cli, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        cli("run", *FAST, f"seed={seed}", f"hydra.run.dir={name}")
    a, b, c = (read_metrics(tmp_path / n) for n in "abc")
    assert a["metrics"] == b["metrics"]
    assert (tmp_path / "a" / "history.csv").read_text() == (
        tmp_path / "b" / "history.csv"
    ).read_text()
    assert a["metrics"] != c["metrics"]


@pytest.mark.slow
def test_multirun_writes_one_directory_per_job(cli, tmp_path):
    cli("run", "-m", "loss=ce,asymmetric", "seed=0,1", *FAST, "hydra.sweep.dir=sweep")
    jobs = _job_dirs(tmp_path / "sweep")
    assert len(jobs) == 4
    seen = {(read_metrics(j)["choices"]["loss"], read_metrics(j)["seed"]) for j in jobs}
    assert seen == {("ce", 0), ("ce", 1), ("asymmetric", 0), ("asymmetric", 1)}
    assert all((j / "history.csv").exists() for j in jobs)


def test_full_batch_gradient_descent(cli, tmp_path):
    cli("run", "optimizer=gd", "trainer.epochs=5", "trainer.progress=false", "hydra.run.dir=job")
    cfg = (tmp_path / "job" / ".hydra" / "config.yaml").read_text()
    assert "batch_size: full" in cfg
    assert read_metrics(tmp_path / "job")["epochs_run"] == 5


@pytest.mark.slow
def test_every_optimizer_trains(cli, tmp_path):
    names = ["gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
    cli("run", "-m", f"optimizer={','.join(names)}", *FAST, "hydra.sweep.dir=sweep")
    records = [read_metrics(j) for j in _job_dirs(tmp_path / "sweep")]
    assert sorted(r["choices"]["optimizer"] for r in records) == sorted(names)
    assert all(r["status"] == "completed" for r in records)


@pytest.mark.slow
def test_early_stopping_and_last_epoch(cli, tmp_path):
    cli(
        "run",
        "trainer.epochs=40",
        "trainer.patience=2",
        "trainer.monitor=loss",
        "optimizer.lr=0.05",
        "trainer.progress=false",
        "hydra.run.dir=es",
    )
    record = read_metrics(tmp_path / "es")
    assert record["epochs_run"] < 40
    assert record["epochs_run"] == record["best_epoch"] + 2


@pytest.mark.slow
def test_divergence_is_recorded_not_raised(cli, tmp_path):
    proc = cli("run", "optimizer=sgd", "optimizer.lr=1e30", *FAST, "hydra.run.dir=job")
    record = read_metrics(tmp_path / "job")
    assert proc.returncode == 0
    assert record["status"] == "diverged" and record["diverged_epoch"] == 1
    proc = cli(
        "run",
        "optimizer=sgd",
        "optimizer.lr=1e30",
        "trainer.fail_on_nan=true",
        *FAST,
        "hydra.run.dir=job2",
        check=False,
    )
    assert proc.returncode == 1 and "diverged at epoch 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert read_metrics(tmp_path / "job2")["status"] == "failed"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.class_weights=[1,2,3]", "class_weights has 3 values but the data has 2 classes"),
        ("loss.class_weights=[1,-2]", "class_weights must be non-negative"),
        ("trainer.epochs=0", "trainer.epochs must be an integer >= 1"),
        ("optimizer.lr=0", "optimizer.lr must be > 0"),
        ("trainer.batch_size=-3", "trainer.batch_size must be an integer >= 1 or 'full'"),
        ("trainer.monitor=r2", "trainer.monitor=r2 is not a classification metric"),
    ],
)
def test_bad_input_one_line_exit_2(cli, override, message):
    args = ["run", *FAST, override]
    if "class_weights" in override:
        args.insert(1, "loss=asymmetric")
    proc = cli(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_failed_job_does_not_stop_the_sweep(cli, tmp_path):
    proc = cli(
        "run",
        "-m",
        "loss=asymmetric",
        "loss.class_weights=[1,2,3],[1,2]",
        *FAST,
        "hydra.sweep.dir=sweep",
    )
    assert proc.returncode == 0
    statuses = sorted(read_metrics(j)["status"] for j in _job_dirs(tmp_path / "sweep"))
    assert statuses == ["completed", "failed"]
    failed = next(
        read_metrics(j)
        for j in _job_dirs(tmp_path / "sweep")
        if read_metrics(j)["status"] == "failed"
    )
    assert "3 values" in failed["error"]


def test_unknown_option_lists_valid_ones(cli):
    proc = cli("run", "loss=nope", check=False)
    assert proc.returncode != 0
    assert "Available options in 'loss'" in proc.stderr and "asymmetric" in proc.stderr


def test_typo_in_parameter_fails_before_training(cli):
    proc = cli("run", "loss.gama=2", check=False)
    assert proc.returncode != 0 and "gama" in proc.stderr


def test_hydra_flags_pass_through(cli):
    proc = cli("run", "--cfg", "job", "loss=asymmetric")
    assert "class_weights: auto" in proc.stdout
    assert "lossbench.losses.AsymmetricLoss" in proc.stdout


def test_list_and_version(cli):
    proc = cli("list")
    for name in ("asymmetric", "ce", "mse", "imbalanced", "mlp", "linear", "gd", "adam", "rmsprop"):
        assert name in proc.stdout
    assert "classification" in cli("list", "losses").stdout
    assert cli("list", "nope", check=False).returncode == 2
    assert cli("--version").stdout.startswith("lossbench ")


def test_help_does_not_import_torch():
    code = (
        "import sys, contextlib, io\n"
        "from lossbench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help']); main(['list'])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "False", out.stderr


def test_configs_come_from_the_checkout_or_the_installed_package():
    """In a checkout the top-level configs/ is used; installed, the packaged copy, complete."""
    import lossbench
    from lossbench.registry import config_dir

    package = Path(lossbench.__file__).resolve().parent
    source = REPO / "configs"
    if package.parent == REPO:
        assert config_dir() == source
    else:
        assert config_dir() == package / "configs"
    shipped = {p.relative_to(config_dir()) for p in config_dir().rglob("*.yaml")}
    assert shipped == {p.relative_to(source) for p in source.rglob("*.yaml")}
    assert "loss/ce.yaml" in {str(p) for p in shipped}


@pytest.mark.slow
def test_installed_console_script_runs_and_fails_in_one_line(cli, tmp_path):
    proc = cli("run", *FAST, "hydra.run.dir=job", real=True)
    assert read_metrics(tmp_path / "job")["status"] == "completed"
    assert "balanced_accuracy" in proc.stdout
    assert (tmp_path / "job" / "lossbench.log").read_text().strip()
    bad = cli("run", *FAST, "trainer.epochs=0", check=False, real=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert cli("--version", real=True).stdout.startswith("lossbench ")


def test_bash_completion_installs_and_answers_through_the_dispatcher(cli, monkeypatch):
    script = cli("run", "-sc", "install=bash").stdout
    assert "complete -o nospace -o default -F hydra_bash_completion" in script
    assert "-sc query=bash" in script  # what bash runs on TAB: `lossbench -sc query=bash`

    def tab(line: str) -> list[str]:
        monkeypatch.setenv("COMP_LINE", line)
        monkeypatch.setenv("COMP_POINT", str(len(line)))
        return cli("-sc", "query=bash").stdout.split()

    assert tab("lossbench r") == ["run", "report"]
    assert "loss=focal" in tab("lossbench run loss=fo")
    assert "trainer.epochs=" in tab("lossbench run trainer.ep")
    adam = ["optimizer=adagrad", "optimizer=adam", "optimizer=adamw"]
    assert tab("lossbench run optimizer=a") == adam
    assert tab("lossbench list ") == []


@pytest.mark.slow
def test_bash_tab_completes_through_the_installed_script(tmp_path):
    """What bash does on TAB after `eval "$(lossbench run -sc install=bash)"`."""
    script = Path(sys.executable).parent / "lossbench"
    if not script.exists() or not shutil.which("bash"):
        pytest.skip("needs bash and the installed lossbench script")
    line = "lossbench run optimizer=ad"
    code = (
        f'eval "$({script} run -sc install=bash)"; PATH={script.parent}:$PATH; '
        f'COMP_LINE="{line}"; COMP_POINT={len(line)}; COMP_CWORD=2; '
        'hydra_bash_completion; echo "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.split() == ["optimizer=adagrad", "optimizer=adam", "optimizer=adamw"], out
