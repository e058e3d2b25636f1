"""A multirun that sweeps a config group and sets a key of its options (Hydra limitation)."""

from __future__ import annotations

import json

from lossbench.sweepargs import sweep_safe
from tests.conftest import FAST


def test_keys_of_a_swept_group_become_one_element_sweeps():
    argv = [
        "-m",
        "loss=focal,class_balanced",
        "loss.gamma=1.0",
        "loss.weights=[0.7,0.3]",
        "--config-dir",
        "conf",
        "trainer.epochs=3",
        "+loss.extra=2",
        "model.hidden_sizes=[8,8]",
    ]
    assert sweep_safe(argv) == [
        "-m",
        "loss=focal,class_balanced",
        "loss.gamma=choice(1.0)",
        "loss.weights=choice([0.7,0.3])",
        "--config-dir",
        "conf",
        "trainer.epochs=3",
        "+loss.extra=2",  # an added key stays as written
        "model.hidden_sizes=[8,8]",  # model is not swept
    ]


def test_single_runs_and_unswept_groups_are_left_alone():
    assert sweep_safe(["loss=focal", "loss.gamma=1.0"]) == ["loss=focal", "loss.gamma=1.0"]
    argv = ["-m", "loss=focal", "loss.gamma=1.0,2.0", "seed=0,1"]
    assert sweep_safe(argv) == argv


def test_sweep_of_losses_with_a_shared_key_runs_every_job(cli, tmp_path):
    cli(
        "run", "-m", "loss=focal,class_balanced", "loss.gamma=1.0", *FAST,
        "hydra.sweep.dir=sweep", "report.plots=false",
    )  # fmt: skip
    records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("sweep/*/metrics.json"))]
    assert [r["choices"]["loss"] for r in records] == ["focal", "class_balanced"]
    assert all(r["status"] == "completed" for r in records)
    assert all("loss.gamma=1.0" in r["overrides"] for r in records)


def test_multirun_with_cfg_is_one_line_exit_2(cli):
    bad = cli("run", "-m", "loss=ce,focal", "--cfg", "job", check=False)
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert "Only one of --run, --multirun, --cfg" in lines[0] and "drop -m" in lines[0]


def test_a_key_only_some_swept_options_have_applies_where_it_exists(cli, tmp_path):
    """The README's weight sweep: ce has no gamma, so its jobs run without it (once
    trained, then resumed) and the sweep goes on; focal gets each gamma."""
    out = cli(
        "run", "-m", "loss=ce,focal", "loss.gamma=0.5,2", *FAST,
        "hydra.sweep.dir=sweep", "report.plots=false",
    )  # fmt: skip
    assert "note: loss.gamma is not a key of loss=ce: its 2 jobs run without it" in out.stderr
    assert out.stderr.count("note: loss.gamma") == 1
    records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("sweep/*/metrics.json"))]
    assert [r["choices"]["loss"] for r in records] == ["ce", "ce", "focal", "focal"]
    assert not any("loss.gamma" in o for r in records[:2] for o in r["overrides"])
    assert [o for o in records[2]["overrides"] if o.startswith("loss.gamma")] == ["loss.gamma=0.5"]
    assert [o for o in records[3]["overrides"] if o.startswith("loss.gamma")] == ["loss.gamma=2"]
    assert all(r["status"] == "completed" for r in records)
    assert "resumed_from" in records[1] and records[1]["config_hash"] == records[0]["config_hash"]


def test_a_key_no_swept_option_has_is_still_an_error(cli):
    bad = cli("run", "-m", "loss=ce,focal", "loss.gama=0.5,2", *FAST, check=False)
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert "loss.gama is not a key; did you mean loss.gamma?" in lines[0]
