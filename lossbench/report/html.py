"""``report.html``: the whole report in one self-contained file, to open or send.

Every table of ``summary.md`` (verdicts coloured), the leaderboard when the report
has one (``leaderboard.csv``, rendered column by column as it is), every plot
embedded as a base64 PNG, the command that produced the runs and the software
versions the records carry. No scripts, fonts, styles or images from elsewhere:
it reads the same offline, in a mail attachment or years later.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lossbench.io import atomic_write_text
from lossbench.records import METRICS_FILE
from lossbench.report import tables
from lossbench.report.collect import Results
from lossbench.report.reading import reading
from lossbench.report.summary import Options, Summary, describe_method
from lossbench.report.tables import headline_rows, short_labels

log = logging.getLogger(__name__)

HTML_FILE = "report.html"
LEADERBOARD_FILE = "leaderboard.csv"
VERDICT_CLASS = {"▲ win": "win", "▼ loss": "loss", "baseline": "baseline", "n.s.": "ns"}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em;
     border-bottom: 1px solid #ddd; padding-bottom: .2em; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tr.win td { background: #e3f4e3; } tr.loss td { background: #fbe3e3; }
tr.baseline td { background: #eeeeee; font-weight: 600; }
.scroll { overflow-x: auto; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto;
         border: 1px solid #eee; } figcaption { font-size: .85em; color: #555; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
.method, .notes { font-size: .9em; color: #444; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], classes=None) -> str:
    """An HTML table; every cell escaped; ``classes`` gives each row's CSS class."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _yaml(path: Path, default: Any = None) -> Any:
    """The YAML document in ``path``, or ``default`` ({}) when it cannot be read or parsed
    (skipped with one line: the command is then rebuilt from the records)."""
    empty = {} if default is None else default
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        log.warning(f"report: skipped {path}: unreadable ({exc.__class__.__name__})")
        return empty
    return empty if loaded is None else loaded


def commands(paths: Sequence[str | Path], results: Results) -> list[str]:
    """The command line of each reported sweep or run.

    From Hydra's saved files where there are some (``multirun.yaml`` of a sweep,
    ``.hydra/overrides.yaml`` of a run), else rebuilt from the records'
    ``overrides`` (every value a key took, comma-joined, as a ``-m`` sweep).
    """
    found: list[str] = []
    for p in map(Path, paths):
        saved = p / "multirun.yaml"
        run = p / ".hydra" / "overrides.yaml"
        if saved.is_file():
            hydra = _yaml(saved).get("hydra")
            overrides = hydra.get("overrides") if isinstance(hydra, dict) else None
            task = overrides.get("task") if isinstance(overrides, dict) else None
            if isinstance(task, list):
                found.append(" ".join(["lossbench run -m", *map(str, task)]))
        elif run.is_file():
            task = _yaml(run, default=[])
            if isinstance(task, list):
                found.append(" ".join(["lossbench run", *map(str, task)]))
    if found:
        return found
    values: dict[str, dict[str, None]] = {}
    for d in results.dirs:
        for text in _record(d).get("overrides") or []:
            key, _, value = str(text).partition("=")
            values.setdefault(key, {})[value] = None
    parts = [f"{k}={','.join(v)}" for k, v in values.items()]
    return [" ".join(["lossbench run -m", *parts]) + "   # rebuilt from the records"]


def _record(job_dir: Path) -> dict:
    try:
        return json.loads((job_dir / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def versions(results: Results) -> list[dict[str, object]]:
    """The distinct ``versions`` blocks of the records (one, unless runs were mixed)."""
    seen: dict[str, dict] = {}
    for d in results.dirs:
        v = _record(d).get("versions")
        if isinstance(v, dict):
            seen.setdefault(json.dumps(v, sort_keys=True), v)
    return list(seen.values())


def _dataset_of(plot: Path, datasets: list[str]) -> str | None:
    """The dataset a plot belongs to (file names end in ``_<dataset>`` when there are
    several; the longest matching name wins)."""
    if len(datasets) == 1:
        return datasets[0]
    matches = [d for d in datasets if plot.stem.endswith(f"_{d}")]
    return max(matches, key=len) if matches else None


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{name}">'
        f"<figcaption>plots/{name}</figcaption></figure>"
    )


def render(
    results: Results,
    summary: Summary,
    options: Options,
    plots: Sequence[Path],
    out_dir: Path,
    paths: Sequence[str | Path] = (),
) -> str:
    """The report page as a string."""
    datasets = list(dict.fromkeys(summary.df["dataset"]))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>lossbench report: {html.escape(', '.join(datasets))}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>lossbench report</h1>",
        f'<p class="method">{html.escape(describe_method(options))}</p>',
        "<h2>Command</h2>",
    ]
    out += [f"<pre>{html.escape(c)}</pre>" for c in commands(paths or [out_dir], results)]
    orphans = [p for p in plots if _dataset_of(p, datasets) is None and p.is_file()]
    board = out_dir / LEADERBOARD_FILE
    board_df = _read_csv(board)
    if board_df is not None:
        out += [
            "<h2>Leaderboard</h2>",
            _table(list(board_df.columns), board_df.itertuples(index=False)),
        ]
        out += [_image(p) for p in orphans]  # the plots across datasets (e.g. ranks)
        orphans = []
    # One section per table (a dataset, or a dataset with its options where the
    # summary has a ``problem`` column), each dataset's plots after its last table.
    key = "problem" if "problem" in summary.df.columns else "dataset"
    parts = list(summary.df.groupby(key, sort=False))
    for i, ((title, rows), (_, part)) in enumerate(zip(headline_rows(summary), parts, strict=True)):
        out += [f"<h2>{html.escape(title)}</h2>"]
        classes = [VERDICT_CLASS.get(r[-1], "") for r in rows]
        out.append(_table(_headline_header(options), rows, classes))
        lines = reading(part, options)  # the plain-language reading, as in summary.md
        if lines:
            out.append(
                '<ul class="reading">'
                + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
                + "</ul>"
            )
        metrics = [
            m
            for m in summary.metrics
            if part[f"{m}_n"].sum() > 0 and not m.startswith("recall_class_")
        ]
        if metrics:
            out.append("<h3>All metrics, mean ± std over completed seeds</h3>")
            body = [
                [label] + [_pm(r, m) for m in metrics]
                for label, (_, r) in zip(short_labels(part), part.iterrows(), strict=True)
            ]
            out.append(_table(["config", *metrics], body))
        dataset = part["dataset"].iloc[0]
        later = {p["dataset"].iloc[0] for _, p in parts[i + 1 :]}
        if dataset not in later:
            out += [_image(p) for p in plots if _dataset_of(p, datasets) == dataset and p.is_file()]
    if orphans:
        out += ["<h2>Other plots</h2>", *map(_image, orphans)]
    if summary.notes:
        out += ["<h2>Notes</h2>", '<ul class="notes">']
        out += [f"<li>{html.escape(n)}</li>" for n in summary.notes]
        out.append("</ul>")
    found = versions(results)
    if found:
        keys = list(dict.fromkeys(k for v in found for k in v))
        out += ["<h2>Versions</h2>", _table(keys, [[v.get(k) for k in keys] for v in found])]
    out += [
        '<p class="method">Files beside this page: summary.md, summary.csv (every metric '
        "with std and CI), results.csv (one row per job), plots/.</p>",
        "</body></html>",
    ]
    return "\n".join(out) + "\n"


def _read_csv(path: Path) -> pd.DataFrame | None:
    """A CSV file as a table, or None when it is missing or holds no rows."""
    try:
        df = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    return None if df.empty else df


def _headline_header(options: Options) -> list[str]:
    """The headline table's column names: ``tables.HEADER``, or ``tables._header(options)``
    where the columns depend on the options (a multiple-comparison correction adds one)."""
    header = getattr(tables, "_header", None)
    return header(options) if header is not None else list(tables.HEADER)


def _pm(row: pd.Series, metric: str) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if mean != mean:
        return ""
    return f"{mean:.4f}" + (f" ± {std:.4f}" if std == std else "")


def write_html(
    results: Results,
    summary: Summary,
    options: Options,
    plots: Sequence[Path],
    out_dir: Path,
    paths: Sequence[str | Path] = (),
) -> Path:
    """Write ``report.html`` into ``out_dir`` (atomically) and return its path."""
    path = out_dir / HTML_FILE
    atomic_write_text(path, render(results, summary, options, plots, out_dir, paths))
    return path
