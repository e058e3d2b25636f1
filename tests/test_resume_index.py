"""The resume index: one scan per sweep, a parsed-file cache, malformed records skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lossbench import resume
from lossbench.resume import INDEX_FILE, ResumeIndex, reuse_completed, sweep_index


def _record(directory: Path, digest: str, status: str = "completed", **extra) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rec = {"status": status, "config_hash": digest, "metrics": {"accuracy": 0.5}, **extra}
    (directory / "metrics.json").write_text(json.dumps(rec))
    return directory


@pytest.fixture(autouse=True)
def _fresh_index():
    resume.forget_index()
    yield
    resume.forget_index()


def test_finds_completed_records_only(tmp_path):
    root = tmp_path / "runs"
    done = _record(root / "a" / "0" / "seed_1", "h1")
    _record(root / "a" / "1", "h2", status="failed")
    _record(root / "a" / "1" / ".hydra", "h3")  # Hydra's own folder is never a record
    index = ResumeIndex([root])
    found = index.find("h1")
    assert found is not None and found[0] == done and found[1]["config_hash"] == "h1"
    assert index.find("h2") is None and index.find("h3") is None and index.find("zz") is None


def test_earlier_root_wins_and_nested_roots_count_once(tmp_path):
    root = tmp_path / "runs"
    inner = _record(root / "sweep" / "0", "h")
    _record(root / "other" / "0", "h")
    index = ResumeIndex([root / "sweep", root])
    assert index.find("h")[0] == inner
    assert index._found["h"] == [inner, root / "other" / "0"]


@pytest.mark.parametrize(
    "content", ["null", "[1, 2]", '"text"', "{broken", b"\xff\xfe", ""], ids=repr
)
def test_malformed_records_are_skipped_with_a_warning(tmp_path, capsys, content):
    root = tmp_path / "runs"
    good = _record(root / "0", "h")
    bad = root / "1" / "metrics.json"
    bad.parent.mkdir()
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    index = ResumeIndex([root], cached_roots=[root])
    assert index.find("h")[0] == good
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: resume: skipping unreadable record")
    assert str(bad) in lines[0]
    # a later sweep (cached this time) does not die on it either
    again = ResumeIndex([root], cached_roots=[root])
    assert again.find("h")[0] == good


def test_many_malformed_records_warn_in_a_few_lines(tmp_path, capsys):
    root = tmp_path / "runs"
    for i in range(12):
        (root / str(i)).mkdir(parents=True)
        (root / str(i) / "metrics.json").write_text("null")
    ResumeIndex([root])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == resume._MAX_WARNINGS + 1
    assert "skipped 7 more" in lines[-1]


def test_cache_file_spares_reparsing_and_notices_changes(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for i in range(5):
        _record(root / str(i), f"h{i}")
    ResumeIndex([root], cached_roots=[root])
    assert (root / INDEX_FILE).exists()
    parsed: list[Path] = []
    real_read = resume.read_record

    def counting(path):
        parsed.append(path)
        return real_read(path)

    monkeypatch.setattr(resume, "read_record", counting)
    index = ResumeIndex([root], cached_roots=[root])
    assert parsed == []  # every file came from the cache
    assert index.find("h3")[0] == root / "3"
    assert parsed == [root / "3" / "metrics.json"]  # a hit is re-read before use
    parsed.clear()
    # a rewritten record (new size and mtime) and a new one are parsed; others are not
    _record(root / "3", "h3-changed", note="longer")
    _record(root / "9", "h9")
    index = ResumeIndex([root], cached_roots=[root])
    assert sorted(parsed) == [root / "3" / "metrics.json", root / "9" / "metrics.json"]
    assert index.find("h3") is None and index.find("h3-changed")[0] == root / "3"
    assert index.find("h9")[0] == root / "9"


def test_stale_entries_are_never_reused(tmp_path):
    root = tmp_path / "runs"
    _record(root / "0", "h")
    index = ResumeIndex([root])
    (root / "0" / "metrics.json").unlink()
    assert index.find("h") is None
    _record(root / "1", "x")
    index = ResumeIndex([root])
    (root / "1" / "metrics.json").write_text(json.dumps({"status": "failed", "config_hash": "x"}))
    assert index.find("x") is None


def test_a_corrupt_cache_file_is_rebuilt(tmp_path):
    root = tmp_path / "runs"
    _record(root / "0", "h")
    for text in ("null", "[]", '{"version": 1, "files": {"0/metrics.json": [1]}}', "{"):
        (root / INDEX_FILE).write_text(text)
        assert ResumeIndex([root], cached_roots=[root]).find("h")[0] == root / "0"
    assert json.loads((root / INDEX_FILE).read_text())["version"] == resume.INDEX_VERSION


def _cfg(root: Path, **report) -> object:
    return OmegaConf.create({"report": {"resume": True, "resume_from": [str(root)], **report}})


def test_one_index_per_sweep_and_equal_results(tmp_path, monkeypatch):
    root = tmp_path / "outputs" / "multirun"
    source = _record(root / "old" / "3", "h", seed=3, overrides=["seed=3"])
    (source / "history.csv").write_text("epoch,train_loss\n1,0.5\n")
    sweep = root / "new"
    sweep.mkdir()
    builds = []
    monkeypatch.setattr(
        resume, "ResumeIndex", lambda *a, **k: builds.append(1) or ResumeIndex(*a, **k)
    )
    cfg = _cfg(root)
    rec = reuse_completed(cfg, "h", sweep / "0", sweep, ["loss=ce", "seed=3"])
    assert reuse_completed(cfg, "other", sweep / "1", sweep, []) is None
    assert len(builds) == 1  # one scan for the whole sweep
    original = json.loads((source / "metrics.json").read_text())
    assert rec == {**original, "overrides": ["loss=ce", "seed=3"], "resumed_from": str(source)}
    assert json.loads((sweep / "0" / "metrics.json").read_text()) == rec
    assert (sweep / "0" / "history.csv").read_text() == (source / "history.csv").read_text()
    # a job of the same sweep that completed the same config is found without a rescan
    resume.remember_completed(cfg, sweep, [{"status": "completed", "config_hash": "y"}],
                              [_record(sweep / "2", "y")])  # fmt: skip
    assert reuse_completed(cfg, "y", sweep / "3", sweep, [])["resumed_from"] == str(sweep / "2")
    assert len(builds) == 1
    assert sweep_index(_cfg(root, resume=False), sweep) is None


def test_own_directory_first_and_resumed_from_kept(tmp_path):
    root = tmp_path / "runs"
    first = _record(root / "a" / "0", "h")
    copy = _record(root / "b" / "0", "h", resumed_from=str(first))
    cfg = _cfg(tmp_path / "none")
    rec = reuse_completed(cfg, "h", copy, root / "b", ["x=1"])
    assert rec["resumed_from"] == str(first) and rec["overrides"] == ["x=1"]


def test_walk_skips_symlinked_directories(tmp_path):
    root = tmp_path / "runs"
    _record(tmp_path / "elsewhere" / "0", "h")
    root.mkdir()
    os.symlink(tmp_path / "elsewhere", root / "link")
    assert ResumeIndex([root]).find("h") is None
