"""Plots and report.html from a two-dataset report: every file written, nothing clipped,
the parts each plot must show, and the page rendered in a real headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from lossbench.report import Options, make_report

# Two imbalance profiles of one long-tailed dataset (as dataset.imbalance_ratio=10,100 gives).
PROFILES = {"10": [200, 120, 70, 40, 20], "100": [200, 63, 20, 6, 2]}
LOSSES = {"ce": 0.0, "focal": 0.02, "logit_adjusted": 0.08}
SEEDS = (0, 1, 2)
EPOCHS = 12


def _write(directory: Path, record: dict, history: list[str], **arrays) -> None:
    directory.mkdir(parents=True)
    (directory / "metrics.json").write_text(json.dumps(record))
    (directory / "history.csv").write_text("\n".join(history) + "\n")
    if arrays:
        np.savez(directory / "predictions.npz", **arrays)


def _versions() -> dict:
    return {"lossbench": "0.1.0", "torch": "2.13.0", "python": "3.11.2", "git_commit": "abc123"}


def _classification_jobs(root: Path) -> None:
    """3 losses x 2 profiles x 3 seeds of ``digits_lt``; the tail gains with the loss."""
    job = 0
    for ratio, counts in PROFILES.items():
        for loss, gain in LOSSES.items():
            for seed in SEEDS:
                rng = np.random.default_rng(1000 * job + seed)
                tail = np.linspace(0, 1, len(counts))
                recall = np.clip(0.95 - (0.5 - gain * 4) * tail + rng.normal(0, 0.01, 5), 0, 1)
                bacc = float(recall.mean())
                record = {
                    "status": "completed",
                    "error": None,
                    "seed": seed,
                    "choices": {
                        "dataset": "digits_lt",
                        "model": "mlp",
                        "loss": loss,
                        "optimizer": "adam",
                    },
                    "overrides": [f"loss={loss}", f"dataset.imbalance_ratio={ratio}"],
                    "task": "classification",
                    "metrics": {"balanced_accuracy": bacc}
                    | {f"recall_class_{c}": float(r) for c, r in enumerate(recall)},
                    "val_metrics": {"balanced_accuracy": bacc},
                    "class_counts": counts,
                    "wall_time_s": 1.0,
                    "versions": _versions(),
                }
                history = ["epoch,train_loss,val_loss,val_balanced_accuracy"] + [
                    f"{e},{2.0 / e + rng.normal(0, 0.01) + 0.1:.5f},{1.5 / e + 0.3:.5f},"
                    f"{bacc * (1 - 0.5 / e):.5f}"
                    for e in range(1, EPOCHS + 1)
                ]
                _write(root / f"{job}" / f"seed_{seed}", record, history)
            job += 1


def _forecast_jobs(root: Path) -> None:
    """mse / temporal / soft_dtw on ``sine``, 3 seeds each, with predictions."""
    t = np.linspace(0, 4 * np.pi, 60)
    for j, loss in enumerate(("mse", "temporal", "soft_dtw")):
        for seed in SEEDS:
            rng = np.random.default_rng(10 * j + seed)
            mse = 0.05 + 0.01 * j + rng.normal(0, 0.002)
            record = {
                "status": "completed",
                "error": None,
                "seed": seed,
                "choices": {"dataset": "sine", "model": "mlp", "loss": loss, "optimizer": "adam"},
                "overrides": [f"loss={loss}", "dataset=sine"],
                "task": "forecast",
                "metrics": {"mse": mse, "mae": mse**0.5},
                "val_metrics": {"mse": mse},
                "wall_time_s": 1.0,
                "versions": _versions(),
            }
            history = ["epoch,train_loss,val_loss,val_mse"] + [
                f"{e},{1.0 / e:.5f},{1.2 / e:.5f},{mse + 0.5 / e:.5f}" for e in range(1, EPOCHS + 1)
            ]
            x = np.stack([np.sin(t[i : i + 30]) for i in range(8)])[..., None]
            y = np.stack([np.sin(t[i + 30 : i + 40]) for i in range(8)])
            _write(
                root / f"f{j}" / f"seed_{seed}",
                record,
                history,
                x=x,
                y=y,
                pred=y + rng.normal(0, 0.1 * (j + 1), y.shape),
            )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A two-dataset report; every figure is kept (before it is closed) for inspection."""
    from lossbench.report import plots

    root = tmp_path_factory.mktemp("visuals") / "sweep"
    _classification_jobs(root)
    _forecast_jobs(root)
    figures = {}
    save = plots._save

    def keep(fig, path):
        fig.canvas.draw()
        figures[path.name] = _inspect(fig)
        return save(fig, path)

    mp = pytest.MonkeyPatch()
    mp.setattr(plots, "_save", keep)
    try:
        rep = make_report([root], root, Options())
    finally:
        mp.undo()
    return root, rep, figures


def _inspect(fig) -> dict:
    """What a test needs from a drawn figure: axes, lines, bands, legends, texts outside."""
    from matplotlib.collections import LineCollection, PolyCollection

    renderer = fig.canvas.get_renderer()
    box = fig.bbox

    def outside(bb) -> bool:
        return bb.x0 < box.x0 - 1 or bb.x1 > box.x1 + 1 or bb.y0 < box.y0 - 1 or bb.y1 > box.y1 + 1

    texts = list(fig.texts) + [t for leg in fig.legends for t in leg.get_texts()]
    for ax in fig.axes:
        texts += [*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label]
    clipped = [
        t.get_text()
        for t in texts
        if t.get_visible() and t.get_text().strip() and outside(t.get_window_extent(renderer))
    ]
    # Tick labels, axis labels and titles: the axes' tight bounding box.
    clipped += [f"axes {a.get_title()!r}" for a in fig.axes if outside(a.get_tightbbox(renderer))]
    legends = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    legends += [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    ]
    return {
        "axes": [
            {
                "title": ax.get_title(),
                "lines": [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")],
                "bands": [c for c in ax.collections if isinstance(c, PolyCollection)],
                "dashed": [
                    c
                    for c in ax.collections
                    if isinstance(c, LineCollection) and c.get_linestyle()[0][1] is not None
                ],
                "xticks": [t.get_text() for t in ax.get_xticklabels() if t.get_text()],
                "yticks": [t.get_text() for t in ax.get_yticklabels() if t.get_text()],
                "xscale": ax.get_xscale(),
                "yscale": ax.get_yscale(),
            }
            for ax in fig.axes
        ],
        "legend": legends,
        "clipped": clipped,
    }


EXPECTED = {
    "balanced_accuracy_digits_lt.png",
    "per_class_recall_digits_lt.png",
    "learning_curves_digits_lt.png",
    "mse_sine.png",
    "forecast_windows_sine.png",
    "learning_curves_sine.png",
}


def test_every_plot_is_written_and_not_blank(report):
    import matplotlib.image as mpimg

    root, rep, figures = report
    assert {p.name for p in rep.plots} >= EXPECTED
    for p in rep.plots:
        if p.name not in EXPECTED:
            continue  # drawn by other modules (e.g. the leaderboard's)
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(p)
        assert img.shape[0] >= 300 and img.shape[1] >= 500, (p.name, img.shape)
        gray = img[..., :3].mean(axis=2)
        assert gray.std() > 0.05, p.name  # not a blank canvas
        assert (gray < 0.5).mean() > 0.005, p.name  # dark ink: text, lines
        assert figures[p.name]["clipped"] == [], (p.name, figures[p.name]["clipped"])


def test_metric_bars_legend_baseline_line_and_labels(report):
    _, _, figures = report
    fig = figures["balanced_accuracy_digits_lt.png"]
    (ax,) = fig["axes"]
    assert "baseline" in fig["legend"] and "baseline mean" in fig["legend"]
    assert "95% CI of the mean" in fig["legend"] and "one seed" in fig["legend"]
    # Every row marks its own baseline's mean (one baseline per profile).
    assert len(ax["dashed"]) == 6
    marks = sorted({float(c.get_segments()[0][0][0]) for c in ax["dashed"]})
    assert len(marks) == 2
    # Rows are named by what varies within the dataset: never "dataset=...".
    assert len(ax["yticks"]) == 6 and not any("dataset=" in t for t in ax["yticks"])
    assert any("dataset.imbalance_ratio=100" in t for t in ax["yticks"])


def test_per_class_recall_has_one_panel_per_profile(report):
    _, _, figures = report
    fig = figures["per_class_recall_digits_lt.png"]
    assert len(fig["axes"]) == len(PROFILES)
    for ax, counts in zip(fig["axes"], PROFILES.values(), strict=True):
        assert f"n = {max(counts)} … {min(counts)}" in ax["title"]
        assert len(ax["lines"]) == len(LOSSES)
        for line in ax["lines"]:  # drawn against this profile's own counts
            assert sorted(line.get_xdata()) == sorted(counts)
        styles = {(ln.get_linestyle(), ln.get_marker()) for ln in ax["lines"]}
        assert len(styles) == len(LOSSES)  # overlapping lines stay distinguishable
        assert ax["xscale"] == "log" and len(ax["xticks"]) >= 3


def test_learning_curves_integer_epochs_and_seed_bands(report):
    _, _, figures = report
    fig = figures["learning_curves_digits_lt.png"]
    assert [a["title"] for a in fig["axes"]] == ["train_loss", "val_loss", "val_balanced_accuracy"]
    for ax in fig["axes"]:
        assert len(ax["lines"]) == 6 and len(ax["bands"]) == 6
        assert all(re.fullmatch(r"−?\d+", t) for t in ax["xticks"]), ax["xticks"]
    loss_ax = fig["axes"][0]
    assert loss_ax["yscale"] == "log" and len(loss_ax["yticks"]) >= 3


def test_forecast_windows(report):
    _, _, figures = report
    fig = figures["forecast_windows_sine.png"]
    assert len(fig["axes"]) == 3
    for ax in fig["axes"]:
        assert len(ax["lines"]) == 2 + 3  # input, truth, one forecast per loss
    assert {"input", "truth"} <= set(fig["legend"])


def test_html_is_self_contained_with_every_table_and_plot(report):
    root, rep, _ = report
    page = (root / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(rep.plots)
    on_disk = {base64.b64encode(p.read_bytes()).decode() for p in rep.plots}
    assert set(images) == on_disk
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", page)
    assert "<script" not in page and "<link" not in page
    board = (root / "leaderboard.csv").is_file() and len(
        (root / "leaderboard.csv").read_text().strip().splitlines()
    ) > 1
    sections = page.count("<h2>dataset=")  # one per dataset (or dataset with its options)
    assert sections >= 2 and "<h2>dataset=sine" in page
    assert page.count("<table>") == 2 * sections + 1 + board  # 2 per section, versions, board
    assert ("<h2>Leaderboard</h2>" in page) == board
    assert "lossbench run -m loss=ce,focal,logit_adjusted" in page  # rebuilt command
    assert "2.13.0" in page and "abc123" in page  # versions of the records
    assert 'class="baseline"' in page
    # the plain-language reading under each headline table, as in summary.md
    assert page.count('<ul class="reading">') == sections
    assert "no detectable difference from" in page or "better than" in page or "worse than" in page


def test_html_renders_leaderboard_csv_when_present(report, tmp_path):
    from lossbench.report.html import render

    root, rep, _ = report
    (tmp_path / "leaderboard.csv").write_text("rank,loss,mean rank\n1,logit_adjusted,1.5\n")
    page = render(rep.results, rep.summary, Options(), rep.plots, tmp_path, [root])
    assert "<h2>Leaderboard</h2>" in page and "<td>logit_adjusted</td>" in page
    (tmp_path / "leaderboard.csv").write_text("\n")  # no ranked configuration: no section
    page = render(rep.results, rep.summary, Options(), rep.plots, tmp_path, [root])
    assert "<h2>Leaderboard</h2>" not in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_in_headless_chromium(report):
    """Open report.html in a real browser: tables present, every image decoded, no errors."""
    playwright = pytest.importorskip("playwright.sync_api")
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    root, rep, _ = report
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=exe,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto((root / "report.html").as_uri())
            page.wait_for_load_state("load")
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            shown = page.eval_on_selector_all(
                "img", "els => els.map(e => e.getBoundingClientRect().width)"
            )
            n_tables = page.eval_on_selector_all("table", "els => els.length")
            headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
        finally:
            browser.close()
    assert len(widths) == len(rep.plots) and all(w > 0 for w in widths), widths
    assert all(w > 100 for w in shown), shown  # laid out, not collapsed
    assert n_tables == (root / "report.html").read_text().count("<table>") >= 5
    assert any(h.startswith("dataset=digits_lt") for h in headings)
    assert any(h.startswith("dataset=sine") for h in headings)
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
