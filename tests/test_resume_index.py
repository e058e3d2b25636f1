"""The resume index: one scan per sweep, a parsed-file cache, malformed records skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lossbench import resume
from lossbench.io import write_json
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
    assert [Path(p) for p in index._found["h"]] == [inner, root / "other" / "0"]


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


def _age(root: Path, seconds: float = 100.0) -> None:
    """Set every mtime under ``root`` to the past (as for records of earlier sweeps)."""
    old = os.stat(root).st_mtime - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (old, old))


def test_cache_lists_only_changed_directories(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for i in range(5):
        _record(root / "sweep" / str(i) / "seed_0", f"h{i}")
    _record(root / "sweep" / "5" / "seed_0", "h5", status="failed")
    _age(root)
    ResumeIndex([root], cached_roots=[root])
    assert (root / INDEX_FILE).exists()
    listed: list[str] = []
    parsed: list[Path] = []
    real_scandir, real_read = os.scandir, resume.read_record

    def scandir(path):
        listed.append(os.path.relpath(path, root))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(resume, "read_record", lambda p: parsed.append(p) or real_read(p))
    cache = (root / INDEX_FILE).stat().st_mtime_ns
    index = ResumeIndex([root], cached_roots=[root])
    assert listed == ["."] and parsed == []  # nothing changed: only the root is listed
    assert (root / INDEX_FILE).stat().st_mtime_ns == cache  # and the cache not rewritten
    assert index.find("h3")[0] == root / "sweep" / "3" / "seed_0"
    assert parsed == [root / "sweep" / "3" / "seed_0" / "metrics.json"]  # a hit is re-checked
    parsed.clear()
    listed.clear()
    # a failed job completed by a re-run (written atomically, as lossbench writes) and a
    # new job are noticed; a completed record replaced is never reused under its old hash
    five = root / "sweep" / "5" / "seed_0" / "metrics.json"
    write_json(five, {"status": "completed", "config_hash": "h5"})
    write_json(root / "sweep" / "3" / "seed_0" / "metrics.json",
               {"status": "completed", "config_hash": "h3-new"})  # fmt: skip
    _record(root / "sweep" / "9" / "seed_0", "h9")
    index = ResumeIndex([root], cached_roots=[root])
    assert sorted(listed) == [".", "sweep", "sweep/5/seed_0", "sweep/9", "sweep/9/seed_0"]
    assert sorted(parsed) == [five, root / "sweep" / "9" / "seed_0" / "metrics.json"]
    assert index.find("h5")[0] == five.parent and index.find("h3") is None
    assert index.find("h9")[0] == root / "sweep" / "9" / "seed_0"


def test_recently_changed_directories_are_listed_again(tmp_path, monkeypatch):
    """An mtime may not tick between two changes close in time: such a directory is
    not trusted from the cache (git's racy-index rule)."""
    root = tmp_path / "runs"
    _record(root / "0", "h")
    ResumeIndex([root], cached_roots=[root])
    mtime = os.stat(root / "0").st_mtime_ns
    (root / "0" / "metrics.json").write_text('{"status": "completed", "config_hash": "h2"}')
    os.utime(root / "0" / "metrics.json", ns=(mtime, mtime))
    os.utime(root / "0", ns=(mtime, mtime))  # as if both changes fell in one tick
    assert ResumeIndex([root], cached_roots=[root]).find("h2")[0] == root / "0"


def test_edits_in_place_never_cause_a_wrong_reuse(tmp_path):
    root = tmp_path / "runs"
    _record(root / "0", "h")
    _age(root)
    ResumeIndex([root], cached_roots=[root])
    before = os.stat(root / "0")
    (root / "0" / "metrics.json").write_text('{"status": "failed", "config_hash": "h"}')
    os.utime(root / "0", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert ResumeIndex([root], cached_roots=[root]).find("h") is None


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
    bad_entry = json.dumps({"version": resume.INDEX_VERSION, "dirs": {"": [1, ["0"], [1]]}})
    for text in ("null", "[]", bad_entry, "{"):
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
