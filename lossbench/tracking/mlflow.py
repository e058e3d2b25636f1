"""MLflow experiment tracking, switched on with ``+logger=mlflow``.

Needs the optional extra: ``pip install 'lossbench[mlflow]'``. It reads the files a
job has already written, so training code does not know MLflow exists:

- after every job (``on_job_end``, in the process that ran the job, whatever the
  launcher): one MLflow run per seed, with the job's resolved config as params
  (flattened, ``loss.gamma``), ``history.csv`` as per-epoch metrics (step = epoch),
  the test metrics as ``test_<name>``, status and config hash as tags, and the
  seed's files (``metrics.json``, ``history.csv``, ``predictions.npz``, the job's
  ``.hydra/``) as artifacts;
- after a sweep: the report is written first (this callback *is* the report
  callback, extended), then a parent run of the sweep holds the report files
  (``report.html``, ``summary.*``, ``results.csv``, ``plots/``) and every seed
  run of the sweep is nested under it.

Why it takes the report callback's place (``hydra.callbacks.report``): Hydra calls
``on_multirun_end`` of its callbacks in reverse order, so a second callback
registered after the report one would run before the report exists.

The store is local by default: a SQLite database ``outputs/mlflow.db`` and
artifacts in ``outputs/mlartifacts`` (``mlflow ui --backend-store-uri
sqlite:///outputs/mlflow.db``); ``hydra.callbacks.report.tracking_uri`` points it
at any other store or server.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.records import HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE
from lossbench.report.callback import ReportCallback

DEFAULT_DB = Path("outputs") / "mlflow.db"
DEFAULT_ARTIFACTS = Path("outputs") / "mlartifacts"
PARENT_ID_FILE = ".mlflow_parent_run_id"
SEED_FILES = (METRICS_FILE, HISTORY_FILE, PREDICTIONS_FILE)
REPORT_FILES = (
    "report.html",
    "summary.md",
    "summary.csv",
    "results.csv",
    "leaderboard.md",
    "leaderboard.csv",
)
STATUS = {"completed": "FINISHED"}  # diverged and failed runs are FAILED in MLflow


def _client(tracking_uri: str | None):
    """An ``MlflowClient`` on ``tracking_uri`` (default: the local SQLite store)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri or default_uri())


def default_uri() -> str:
    return f"sqlite:///{DEFAULT_DB.resolve()}"


def flatten(node: Any, prefix: str = "") -> dict[str, str]:
    """``{"loss": {"gamma": 2}}`` -> ``{"loss.gamma": "2"}`` (lists stay one value)."""
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: json.dumps(node) if isinstance(node, list) else str(node)}


def seed_dirs(job_dir: Path) -> list[Path]:
    """The directories holding one seed's ``metrics.json``: the job dir or its ``seed_<s>/``."""
    if (job_dir / METRICS_FILE).is_file():
        return [job_dir]
    return sorted(p.parent for p in job_dir.glob("seed_*/metrics.json"))


def _history(path: Path) -> list[tuple[str, float, int]]:
    """``(name, value, epoch)`` of every finite number in ``history.csv``."""
    if not path.is_file():
        return []
    out = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            epoch = int(float(row.pop("epoch", 0) or 0))
            for name, text in row.items():
                try:
                    value = float(text)
                except (TypeError, ValueError):
                    continue
                if math.isfinite(value):
                    out.append((name, value, epoch))
    return out


def log_job(
    job_dir: Path,
    tracking_uri: str | None = None,
    experiment: str = "lossbench",
    artifact_location: str | None = None,
    parent_run_id: str | None = None,
) -> list[str]:
    """Log every seed of the job in ``job_dir`` as its own MLflow run; return the run ids."""
    from mlflow.entities import Metric, Param, RunTag

    client = _client(tracking_uri)
    exp_id = experiment_id(client, experiment, artifact_location)
    config_file = job_dir / ".hydra" / "config.yaml"
    config = OmegaConf.to_container(OmegaConf.load(config_file)) if config_file.is_file() else {}
    ids = []
    for d in seed_dirs(job_dir):
        record = json.loads((d / METRICS_FILE).read_text())
        params = flatten(config) | flatten(record.get("choices") or {}, "choice.")
        params["seed"] = str(record.get("seed"))
        params.pop("seeds", None)  # the batch, not this run's seed
        tags = {
            "status": str(record.get("status")),
            "config_hash": str(record.get("config_hash")),
            "overrides": " ".join(record.get("overrides") or []),
            "job_dir": str(d.resolve()),
            "mlflow.source.name": "lossbench",
        } | {f"version.{k}": str(v) for k, v in (record.get("versions") or {}).items()}
        if record.get("error"):
            tags["error"] = str(record["error"])[:5000]
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        choices = record.get("choices") or {}
        name = " ".join(f"{choices[k]}" for k in ("dataset", "loss") if k in choices)
        run = client.create_run(exp_id, run_name=f"{name} seed={record.get('seed')}")
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, s) for k, v, s in _history(d / HISTORY_FILE)]
        finals = {f"test_{k}": v for k, v in (record.get("metrics") or {}).items()}
        finals |= {k: record.get(k) for k in ("best_epoch", "epochs_run", "wall_time_s")}
        metrics += [
            Metric(k, float(v), now, 0)
            for k, v in finals.items()
            if isinstance(v, int | float) and math.isfinite(v)
        ]
        param_list = [Param(k, v[:6000]) for k, v in params.items()]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        client.log_batch(run_id, tags=tag_list)
        for i in range(0, len(param_list), 100):  # MLflow's limits per log_batch call
            client.log_batch(run_id, params=param_list[i : i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000])
        for name in SEED_FILES:
            if (d / name).is_file():
                client.log_artifact(run_id, str(d / name))
        if (job_dir / ".hydra").is_dir():
            client.log_artifacts(run_id, str(job_dir / ".hydra"), "hydra")
        client.set_terminated(run_id, STATUS.get(record.get("status"), "FAILED"))
        ids.append(run_id)
    return ids


def experiment_id(client, name: str, artifact_location: str | None = None) -> str:
    """The id of experiment ``name``, created (artifacts under ``artifact_location``) if new."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = artifact_location
    if location is None and client.tracking_uri.startswith("sqlite:///"):
        location = DEFAULT_ARTIFACTS.resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created meanwhile by a parallel job
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


class MlflowCallback(ReportCallback):
    """The report callback, plus one MLflow run per seed and one per sweep."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str = "lossbench",
        artifact_location: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri or None
        self.experiment = experiment
        self.artifact_location = artifact_location or None

    def _check(self) -> None:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            print(
                "error: +logger=mlflow needs MLflow: pip install 'lossbench[mlflow]'",
                file=sys.stderr,
            )
            sys.exit(2)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check()

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        print(f"mlflow: run logged to {self.tracking_uri or default_uri()}")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check MLflow is installed, then open the sweep's parent run (its id in a file,
        so that jobs in other processes can nest their runs under it)."""
        self._check()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            client = _client(self.tracking_uri)
            exp_id = experiment_id(client, self.experiment, self.artifact_location)
            run = client.create_run(
                exp_id, run_name=f"sweep {sweep_dir.name}", tags={"sweep_dir": str(sweep_dir)}
            )
        except Exception as exc:  # tracking must never stop the sweep
            print(f"mlflow: no sweep run: {exc}", file=sys.stderr)
            return
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / PARENT_ID_FILE).write_text(run.info.run_id)

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        job_dir = Path(str(config.hydra.runtime.output_dir))
        parent_file = job_dir.parent / PARENT_ID_FILE
        parent = parent_file.read_text().strip() if parent_file.is_file() else None
        try:
            log_job(job_dir, self.tracking_uri, self.experiment, self.artifact_location, parent)
        except Exception as exc:  # a full disk or a locked store must not fail the job
            print(f"mlflow: job {job_dir} not logged: {exc}", file=sys.stderr)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        super().on_multirun_end(config, **kwargs)  # writes the report files
        sweep_dir = Path(str(config.hydra.sweep.dir))
        parent_file = sweep_dir / PARENT_ID_FILE
        if not parent_file.is_file():
            return
        try:
            client = _client(self.tracking_uri)
            run_id = parent_file.read_text().strip()
            for name in REPORT_FILES:
                if (sweep_dir / name).is_file():
                    client.log_artifact(run_id, str(sweep_dir / name), "report")
            if (sweep_dir / "plots").is_dir():
                client.log_artifacts(run_id, str(sweep_dir / "plots"), "report/plots")
            client.set_terminated(run_id, "FINISHED")
        except Exception as exc:
            print(f"mlflow: report not logged: {exc}", file=sys.stderr)
            return
        print(f"mlflow: runs logged to {self.tracking_uri or default_uri()}")
