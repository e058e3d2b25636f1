"""One job: plan its members, train them split by split, record them, print the result.

The pieces each have one job: :mod:`lossbench.plan` (which members: ``seeds`` x
``splits``, their directories and records), :mod:`lossbench.experiment` (build,
fit and evaluate a group of members), resume (:mod:`lossbench.resume`),
and here the batching policy (:func:`training_groups`, :func:`train_group`), the
per-seed fallback, failure handling and output.

Mistakes in the config end a single run with one line and exit code 2; in a
multirun the job is recorded as ``failed`` and the sweep goes on. A diverged
training is recorded as ``status: diverged``, not as an error.
"""

from __future__ import annotations

import copy
import logging
import time
import traceback
from typing import Any

import torch
from omegaconf import DictConfig, open_dict

from lossbench.console import print_job_line, print_run_summary, print_seeds_summary
from lossbench.data import Dataset
from lossbench.errors import EXIT_USAGE, ConfigError
from lossbench.experiment import (
    build_data,
    build_experiment,
    evaluate_members,
    fit_members,
    loss_is_batchable,
    member_data,
    predict_chosen,
    same_epochs,
)
from lossbench.faults import exit_with_parent, raw_seed
from lossbench.plan import JobContext, Member, Plan, blank_record, make_plan, single_plan
from lossbench.records import versions, write_job, write_predictions
from lossbench.resume import remember_completed, reuse_completed
from lossbench.schema import validate
from lossbench.training.convergence import crt_undertrained_warning, undertrained_warning
from lossbench.training.device import job_placement, needs_own_scaler
from lossbench.training.loop import DivergedError, MemberResult, alike

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """Training a split failed; ``code`` is the exit code of a single run."""

    def __init__(self, message: str, code: int, trace: str | None = None) -> None:
        super().__init__(message)
        self.code, self.trace = code, trace


def run_job(cfg: DictConfig) -> float | None:
    """Hydra task function body: returns the mean best validation monitor value (for sweepers)."""
    exit_with_parent()  # a joblib worker ends with a killed main process
    return run_members(cfg, JobContext.from_hydra())


def run_members(cfg: DictConfig, ctx: JobContext) -> float | None:
    """Train every member of the job ``cfg`` describes; write and print their records.

    With ``seeds`` and/or ``splits`` set, the members train in one batched pass (one
    stacked model, one optimizer; see :func:`training_groups` for splits whose data
    differ in shape); each member's record and history go to its own
    directory (:func:`lossbench.plan.member_dir`), identical to what the single run
    ``dataset.seed=<split> seed=<seed>`` writes (apart from ``seeds``/``splits`` and
    the wall times).
    """
    start = time.perf_counter()
    try:  # the whole config, before anything reads it (seed=abc in a sweep: this job fails)
        validate(cfg)
        job_placement(cfg)  # trainer.device is there and supports trainer.precision
    except ConfigError as exc:
        seed = raw_seed(cfg)
        record = blank_record(ctx, seed, None, versions())
        plan = Plan(None, None, [Member(None, seed, ctx.out_dir, record)])
        return _finish_failed(plan, plan.members, start, JobFailed(str(exc), EXIT_USAGE), ctx)
    torch.set_num_threads(int(cfg.trainer.num_threads))
    try:
        plan = make_plan(cfg, ctx)
    except ConfigError as exc:
        plan = single_plan(cfg, ctx)
        return _finish_failed(plan, plan.members, start, JobFailed(str(exc), EXIT_USAGE), ctx)
    resumed = _resume(cfg, ctx, plan) if ctx.multirun else []
    pending = [m for m in plan.members if not any(m is r for r in resumed)]
    if not pending:
        where = ", ".join(sorted({m.record["resumed_from"] for m in resumed}))
        log.info(f"resumed: already completed in {where}; not trained again")
        return _mean_best([m.record for m in resumed])
    histories: dict[int, list[dict[str, Any]]] = {}
    failure: JobFailed | None = None
    try:
        for members, datasets in _guard(lambda: training_groups(cfg, plan, pending)):
            results = train_group(cfg, plan, members, datasets)
            for member, result in zip(members, results, strict=True):
                histories[id(member)] = result.history
    except JobFailed as exc:
        failure = exc
    failed = [m for m in pending if id(m) not in histories]
    if failure is not None:
        return _finish_failed(plan, pending, start, failure, ctx, histories, failed)
    _write_all(plan, pending, histories, start)
    if ctx.multirun:
        remember_completed(
            cfg, ctx.sweep_dir, [m.record for m in pending], [m.directory for m in pending]
        )
    _print(plan, pending, ctx)
    return _mean_best([m.record for m in plan.members])


def split_config(cfg: DictConfig, split: int | None, plan: Plan) -> DictConfig:
    """The job's config with its data split set (``dataset.seed=<split>`` when ``splits`` is)."""
    if plan.splits is None:
        return cfg
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.dataset.seed = split
    return out


def training_groups(
    cfg: DictConfig, plan: Plan, members: list[Member]
) -> list[tuple[list[Member], list[Dataset] | None]]:
    """Batching policy across splits: which members train together, on which data.

    Members of several splits train in ONE stacked model when the splits' datasets
    are alike (same task and shapes; each member reads only its own split's rows) and
    the sampler gives them epochs of one length, otherwise one training per split;
    ``None``: the members share ``cfg``'s dataset.
    """
    groups = plan.by_split(members)
    if len(groups) == 1:
        return [(groups[0], None)]
    data = {g[0].split: build_data(split_config(cfg, g[0].split, plan)) for g in groups}
    if alike(list(data.values())) and same_epochs(cfg, list(data.values())):
        return [(members, [data[m.split] for m in members])]
    return [(g, [data[g[0].split]] * len(g)) for g in groups]


def _guard(fn: Any) -> Any:
    """``fn()``, its errors as :class:`JobFailed`."""
    try:
        return fn()
    except ConfigError as exc:
        raise JobFailed(str(exc), EXIT_USAGE) from None
    except DivergedError as exc:
        raise JobFailed(str(exc), 1) from None
    except Exception as exc:  # an unexpected failure: keep the traceback in the record
        raise JobFailed(f"{type(exc).__name__}: {exc}", 1, traceback.format_exc()) from None


def train_group(
    cfg: DictConfig, plan: Plan, members: list[Member], datasets: list[Dataset] | None
) -> list[MemberResult]:
    """Train ``members`` and fill their records; JobFailed on an error.

    All in one stacked model, unless the loss sets ``batchable = False``; then one
    training per member, seeded as its single run.
    """
    split_cfg = split_config(cfg, members[0].split, plan)
    parts = [list(range(len(members)))]
    what = f"{len(members)} {'members' if plan.splits else 'seeds'}"
    if len(members) > 1 and not loss_is_batchable(cfg):
        log.warning(
            f"note: loss={members[0].record['choices']['loss']} sets batchable = False; "
            f"training its {what} one after another"
        )
        parts = [[i] for i in range(len(members))]
    elif len(members) > 1 and needs_own_scaler(cfg.trainer.get("precision")):
        log.warning(
            "note: trainer.precision=fp16 scales the loss with one GradScaler per model, "
            f"whose skipped steps would be shared; training the {what} one after another"
        )
        parts = [[i] for i in range(len(members))]

    def run() -> list[MemberResult]:
        results: list[MemberResult] = []
        for part in parts:
            # torch's global stream as the member's single run (or the batched job) sets it
            torch.manual_seed(members[part[0]].seed if len(part) == 1 else int(cfg.seed))
            data = None if datasets is None else [datasets[i] for i in part]
            results += _train_part(split_cfg, [members[i] for i in part], data)
        return results

    return _guard(run)


def _train_part(
    cfg: DictConfig, members: list[Member], datasets: list[Dataset] | None
) -> list[MemberResult]:
    """Train ``members`` as one stacked model; fill each record; return results.

    Forecast jobs also save each member's first test windows (``predictions.npz``)
    into its directory, for the report's forecast plot.
    """
    records = [m.record for m in members]
    exp = build_experiment(cfg, [m.seed for m in members], records[0]["choices"], datasets)
    settings = exp.trainer.settings
    for k, record in enumerate(records):
        record.update(task=exp.data.task, monitor=settings.monitor)
        if exp.data.task == "classification":
            record["class_counts"] = member_data(exp, k).class_counts()
            record["class_names"] = member_data(exp, k).class_names
    results = fit_members(exp)
    preds = predict_chosen(exp, results)
    evaluated = evaluate_members(exp, results, preds)
    for k, (member, result, scores) in enumerate(zip(members, results, evaluated, strict=True)):
        member.record.update(
            status=result.status,
            best_epoch=result.best_epoch,
            best_value=result.best_value,
            eligible_from_epoch=result.eligible_from,
            epochs_run=result.epochs_run,
            diverged_epoch=result.diverged_epoch,
        )
        warning = undertrained_warning(result, settings.epochs)
        member.record["warnings"] = [*exp.warnings, *([warning] if warning else [])]
        if result.crt is not None:  # decoupled classifier re-training ran
            member.record.update({f"crt_{name}": v for name, v in result.crt.items()})
            crt_warning = crt_undertrained_warning(result)
            if crt_warning:
                member.record["warnings"].append(crt_warning)
        if scores is not None:
            member.record.update(metrics=scores["test"], val_metrics=scores["val"])
            if exp.data.task == "forecast":
                test = member_data(exp, k).test
                write_predictions(member.directory, test.x, test.y, preds["test"][k])
        result.state = None  # evaluated: free the parameters before the next split
    return results


def _resume(cfg: DictConfig, ctx: JobContext, plan: Plan) -> list[Member]:
    """Members already completed by an earlier sweep (matched by config hash), copied into place."""
    found = []
    for member in plan.members:
        record = member.record
        done = reuse_completed(
            cfg, record["config_hash"], member.directory, ctx.sweep_dir, record["overrides"]
        )
        if done is not None:
            member.record = done
            found.append(member)
    return found


def _mean_best(records: list[dict[str, Any]]) -> float | None:
    """Mean best validation monitor value of the completed members (what a sweeper optimises)."""
    best = [
        r["best_value"]
        for r in records
        if r.get("status") == "completed" and r.get("best_value") is not None
    ]
    return sum(best) / len(best) if best else None


def _write_all(
    plan: Plan,
    members: list[Member],
    histories: dict[int, list[dict[str, Any]]],
    start: float,
) -> None:
    """Write every member's files; a batched job's wall time is shared equally by its members."""
    elapsed = time.perf_counter() - start
    for member in members:
        member.record["wall_time_s"] = elapsed / len(members)
        if plan.batched:
            member.record["job_wall_time_s"] = elapsed
        write_job(member.directory, member.record, histories.get(id(member), []))


def _finish_failed(
    plan: Plan,
    members: list[Member],
    start: float,
    failure: JobFailed,
    ctx: JobContext,
    histories: dict[int, list[dict[str, Any]]] | None = None,
    failed: list[Member] | None = None,
) -> None:
    """Record the failure for every member it stopped (members of splits trained before keep
    their results); end a single run with the failure's code, let a sweep go on."""
    for member in members if failed is None else failed:
        member.record.update(status="failed", error=str(failure))
        if failure.trace:
            member.record["traceback"] = failure.trace
    _write_all(plan, members, histories or {}, start)
    log.error(f"error: {failure}")
    if not ctx.multirun:
        raise SystemExit(failure.code)
    return None


def _print(plan: Plan, members: list[Member], ctx: JobContext) -> None:
    records = [m.record for m in members]
    if ctx.multirun:
        print_job_line(records)
    elif plan.batched:
        print_seeds_summary(records, str(ctx.out_dir))
    else:
        print_run_summary(records[0], str(ctx.out_dir))
