"""A sweep composes each job's config once (``lossbench.app.compose_once``)."""

from __future__ import annotations

import json

from hydra._internal.config_loader_impl import ConfigLoaderImpl

from lossbench import app
from tests.conftest import FAST


def test_a_sweep_composes_each_job_config_once(tmp_path, monkeypatch, capsys):
    """Hydra composes a job's config to validate the batch and again to launch it;
    ``app.compose_once`` hands the launcher the validated copy."""
    composed: list[tuple[str, ...]] = []
    original = ConfigLoaderImpl.load_sweep_config

    def counting(self, master_config, sweep_overrides):
        composed.append(tuple(sweep_overrides))
        return original(self, master_config, sweep_overrides)

    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", counting)
    monkeypatch.chdir(tmp_path)
    args = ["-m", "seed=0,1", *FAST, "report.plots=false", "report.resume=false"]
    app.main([*args, "hydra.sweep.dir=sweep"])
    capsys.readouterr()
    assert sorted(composed) == sorted(set(composed)) and len(composed) == 2
    assert ConfigLoaderImpl.load_sweep_config is counting  # restored after the run
    for job, seed in ((0, 0), (1, 1)):
        record = json.loads((tmp_path / "sweep" / str(job) / "metrics.json").read_text())
        assert record["seed"] == seed and record["status"] == "completed"
        saved = (tmp_path / "sweep" / str(job) / ".hydra" / "hydra.yaml").read_text()
        assert f"num: {job}" in saved
    assert (tmp_path / "sweep" / "summary.md").exists()  # the report callback ran
