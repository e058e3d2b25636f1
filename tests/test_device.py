"""``trainer.device`` and ``trainer.precision``: checked before training, recorded, and
the plumbing that moves data, model, loss buffers and predictions.

This machine has no GPU: the CPU tests cover the device plumbing (the ``meta`` device
stands in for "another device": a CPU tensor mixed into a loss's computation fails
there), and the tests marked ``gpu`` run only where torch sees CUDA.
"""

from __future__ import annotations

import csv
import math

import pytest
import torch

from lossbench.data.synthetic import imbalanced
from lossbench.errors import ConfigError
from lossbench.schema import ROOT
from lossbench.training import device as dev
from lossbench.training.loop import Trainer, TrainSettings
from lossbench.training.loss_params import wants_index
from tests.conftest import FAST, read_metrics
from tests.test_losses_conformance import CASES, _classes, inputs, make

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
# Losses whose dynamic programme runs on the CPU (numba or torch kernels in float64):
# they move their inputs there and the results back, which a meta tensor cannot do.
HOST_COMPUTED = {"soft_dtw", "dilate"}
# Losses that read values on the host (a meta tensor has none): average_precision selects
# the batch's positives by a boolean mask, auc_margin projects alpha >= 0 only when it is
# negative (an unconditional in-place clamp would break autograd through alpha). Both run
# on CUDA in the gpu test.
VALUE_READ = {"average_precision", "auc_margin"}
# Optional tensors that the YAML defaults leave unset, on top of the conformance cases.
BUFFER_CASES = [
    *CASES,
    pytest.param("focal", "classification", {"alpha": [0.2, 0.3, 0.5]}, id="focal-alpha"),
    pytest.param("temporal", "forecast", {"horizon_weights": [1, 2, 3, 4, 5]}, id="temporal-w"),
]


def _one_line(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _history(job) -> list[dict[str, str]]:
    with open(job / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- options, checked before training ------------------------------------------------


def test_schema_and_device_module_name_the_same_precisions():
    (rule,) = ROOT["trainer.precision"]
    assert set(rule.choices) == set(dev.PRECISIONS)


def test_cpu_and_auto_run_end_to_end_with_identical_results(cli, tmp_path):
    cli("run", *FAST, "trainer.device=cpu", "hydra.run.dir=cpu")
    cli("run", *FAST, "trainer.device=auto", "hydra.run.dir=auto")
    cpu, auto = read_metrics(tmp_path / "cpu"), read_metrics(tmp_path / "auto")
    assert cpu["status"] == "completed" and cpu["device"] == "cpu"
    assert cpu["precision"] == "fp32"
    if not HAS_CUDA:  # auto = cpu here: the same training, bit for bit
        assert auto["device"] == "cpu"
        assert auto["config_hash"] == cpu["config_hash"]  # the same run: resumed as it
        assert auto["metrics"] == cpu["metrics"]
        assert _history(tmp_path / "auto") == _history(tmp_path / "cpu")


@pytest.mark.parametrize("value", ["cuda", "cuda:7", "mps"])
def test_an_absent_device_is_one_line_exit_2(cli, value):
    try:
        dev.resolve_device(value)
    except ConfigError:
        pass
    else:
        pytest.skip(f"{value} is available here")
    line = _one_line(cli("run", *FAST, f"trainer.device={value}", check=False))
    assert f"trainer.device={value}" in line
    assert "trainer.device=cpu" in line  # the fix


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["trainer.device=gpu"], "trainer.device must be auto, cpu, cuda, cuda:N or mps"),
        (["trainer.precision=fp8"], "trainer.precision must be one of fp32, bf16, fp16"),
        (["trainer.device=cpu", "trainer.precision=fp16"], "trainer.precision=bf16 or fp32"),
    ],
)
def test_bad_device_or_precision_is_one_line_exit_2(cli, args, says):
    line = _one_line(cli("run", *FAST, *args, check=False))
    assert says in line


def test_device_is_checked_before_data_is_built(monkeypatch):
    """A config error of the device comes before anything is built or trained."""
    from lossbench import experiment

    def fail(*_a, **_k):
        raise AssertionError("data was built")

    monkeypatch.setattr(experiment, "build_data", fail)
    with pytest.raises(ConfigError, match="trainer.device=cuda:3"):
        dev.job_placement({"trainer": {"device": "cuda:3", "precision": "fp32"}})


def test_auto_resolves_to_cpu_without_a_gpu():
    if HAS_CUDA:
        assert dev.resolve_device("auto").type == "cuda"
    else:
        assert dev.resolve_device("auto") == torch.device("cpu")
        assert dev.describe("auto") == "cpu"
        assert dev.describe("cuda:2") == "cuda:2"  # as given: its job fails on it


def test_cuda_index_is_checked_against_the_devices_there(monkeypatch):
    """The resolution logic with two (pretended) GPUs: cuda:N within range, else one line."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert dev.resolve_device("cuda:1") == torch.device("cuda", 1)
    assert dev.resolve_device("cuda") == torch.device("cuda", 0)
    assert dev.resolve_device("auto") == torch.device("cuda", 0)
    with pytest.raises(ConfigError) as err:
        dev.resolve_device("cuda:7")
    assert str(err.value) == (
        "trainer.device=cuda:7: this machine has 2 CUDA device(s), cuda:0..cuda:1; "
        "choose one of them or trainer.device=cuda"
    )


@pytest.mark.parametrize(
    ("device", "precision", "ok"),
    [
        ("cpu", "fp32", True),
        ("cpu", "bf16", True),
        ("cpu", "fp16", False),
        ("meta", "fp16", False),
    ],
)
def test_precision_support(device, precision, ok):
    if ok:
        assert dev.check_precision(precision, torch.device(device)) == dev.PRECISIONS[precision]
    else:
        with pytest.raises(ConfigError, match=f"trainer.precision={precision}"):
            dev.check_precision(precision, torch.device(device))


# -- loss buffers move with the loss -------------------------------------------------


def _holds_tensor(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(_holds_tensor(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_tensor(v) for v in value)
    return False


def _plain_tensors(module: torch.nn.Module) -> list[str]:
    """Tensors held as plain attributes (not parameters or buffers) anywhere in ``module``:
    ``.to(device)`` would leave them behind."""
    return [
        f"{name or type(module).__name__}.{attr}"
        for name, sub in module.named_modules()
        for attr, value in vars(sub).items()
        if attr not in ("_parameters", "_buffers") and _holds_tensor(value)
    ]


@pytest.mark.parametrize(("name", "task", "params"), BUFFER_CASES)
def test_every_loss_keeps_its_tensors_as_buffers(name, task, params):
    loss = make(name, task, **params)
    assert _plain_tensors(loss) == [], "register these with register_buffer"
    loss64 = loss.to(torch.float64)
    for buf_name, buf in loss64.named_buffers():
        if buf.is_floating_point():
            assert buf.dtype == torch.float64, buf_name


@pytest.mark.parametrize(("name", "task", "params"), BUFFER_CASES)
def test_every_loss_computes_on_the_device_of_its_inputs(name, task, params):
    """Moved to ``meta``, a loss must compute there: any tensor it creates on the CPU
    and combines with the inputs fails (as it would on a GPU)."""
    if name in HOST_COMPUTED:
        pytest.skip("its dynamic programme runs on the CPU by design (see the gpu test)")
    if name in VALUE_READ:
        pytest.skip("it reads values on the host (see the gpu test)")
    loss = make(name, task, **params).to("meta")
    assert all(b.device.type == "meta" for b in loss.buffers())
    pred, target = inputs(task, torch.float32, classes=_classes(name))
    pred = pred.to("meta").requires_grad_(True)
    # a loss with per-sample state (SOAP) gets the batch's training rows, as in training
    extra = {"index": torch.arange(len(target), device="meta")} if wants_index(loss) else {}
    value = loss(pred, target.to("meta"), **extra)
    assert value.device.type == "meta" and value.ndim == 0
    value.backward()
    assert pred.grad is not None and pred.grad.device.type == "meta"


def test_a_module_the_device_cannot_hold_is_a_config_error():
    class NoFloat64(torch.nn.Module):
        def to(self, *args, **kwargs):  # what MPS says of a float64 buffer
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype")

    with pytest.raises(ConfigError) as err:
        dev.to_device(NoFloat64(), torch.device("meta"))
    assert str(err.value) == (
        "trainer.device=meta: NoFloat64 cannot be moved there (Cannot convert a MPS Tensor "
        "to float64 dtype); use trainer.device=cpu"
    )
    assert dev.to_device(len, torch.device("meta")) is len  # a plain function stays


def test_posthoc_adjustment_follows_the_predictions_device():
    from lossbench.evaluation.posthoc import logit_adjuster

    adjust = logit_adjuster([0.9, 0.1], 1.0)
    z = torch.zeros(2, 5, 2)
    assert adjust(z.to("meta")).device.type == "meta"
    assert torch.allclose(adjust(z)[0, 0], -torch.tensor([0.9, 0.1]).log())


def test_build_places_model_optimizer_losses_and_data_on_the_device(monkeypatch):
    """The whole build on a pretend device (``meta``): parameters, the optimizer's
    parameters, every loss buffer and the training data end up there, the datasets the
    metrics read stay on the CPU, and a forward pass runs there."""
    from hydra import compose, initialize_config_dir

    from lossbench.experiment import build_experiment
    from lossbench.registry import config_dir

    monkeypatch.setattr(dev, "resolve_device", lambda name: torch.device("meta"))
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", ["loss=ldam", "dataset.n_samples=600", "eval.posthoc_tau=1"])
    choices = {"dataset": "imbalanced", "model": "mlp", "loss": "ldam", "optimizer": "adam"}
    trainer = build_experiment(cfg, [0, 1], choices).trainer
    params = list(trainer.model.parameters())
    assert params and all(p.device.type == "meta" for p in params)
    optimized = [p for g in trainer.optimizer.param_groups for p in g["params"]]
    assert all(a is b for a, b in zip(optimized, params, strict=True))
    buffers = [b for loss in trainer.loss_fns for b in loss.buffers()]
    assert buffers and all(b.device.type == "meta" for b in buffers)
    assert all(s.x.device.type == "meta" for s in trainer._splits.values())
    assert trainer.data.train.x.device.type == "cpu"
    val = trainer.predict_split("val")
    assert val.device.type == "meta" and val.shape == (2, len(trainer.data.val), 2)
    assert trainer.adjust(val).device.type == "meta"


# -- precision ---------------------------------------------------------------------------


def _trainer(placement: dev.Placement, seeds=(0,), epochs=4) -> Trainer:
    from lossbench.build import build
    from tests.conftest import composed

    data = imbalanced(n_samples=600)
    model = build(
        "model",
        composed("model", "mlp"),
        in_features=data.in_features,
        out_features=data.out_features,
        seeds=list(seeds),
    )
    loss = build("loss", composed("loss", "ce"), **data.stats())
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    settings = TrainSettings(
        epochs=epochs,
        batch_size=64,
        monitor="loss",
        patience=None,
        evaluate="last",
        progress=False,
        fail_on_nan=False,
        placement=placement,
    )
    return Trainer(model, [loss] * len(seeds), opt, data, settings)


def test_bf16_runs_the_model_in_bf16_and_the_loss_in_fp32():
    trainer = _trainer(dev.Placement(torch.device("cpu"), "bf16"))
    seen = []
    trainer.model.layers[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    out = trainer.predict_split("val")
    assert seen == [torch.bfloat16]
    assert out.dtype == torch.float32  # what losses and metrics get
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_bf16_trains_close_to_fp32():
    fp32 = _trainer(dev.Placement()).fit()[0]
    bf16 = _trainer(dev.Placement(torch.device("cpu"), "bf16")).fit()[0]
    assert bf16.status == "completed"
    for a, b in zip(fp32.history, bf16.history, strict=True):
        # bf16 keeps 8 bits of mantissa: the model's products carry ~0.4% error
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.03)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.03)
    assert bf16.history[-1]["train_loss"] < bf16.history[0]["train_loss"]  # it learns


def test_bf16_through_the_cli_records_its_precision(cli, tmp_path):
    cli("run", *FAST, "trainer.precision=bf16", "hydra.run.dir=bf16")
    cli("run", *FAST, "hydra.run.dir=fp32")
    bf16, fp32 = read_metrics(tmp_path / "bf16"), read_metrics(tmp_path / "fp32")
    assert (bf16["precision"], bf16["device"]) == ("bf16", "cpu")
    assert bf16["config_hash"] != fp32["config_hash"]  # another result: never resumed as it
    for a, b in zip(_history(tmp_path / "fp32"), _history(tmp_path / "bf16"), strict=True):
        assert float(b["val_loss"]) == pytest.approx(float(a["val_loss"]), rel=0.03)


def test_the_loss_scaler_path_trains_one_member():
    """fp16's GradScaler path of the loop (run here with CPU autocast, which the config
    does not offer: on the CPU bf16 is the choice)."""
    result = _trainer(dev.Placement(torch.device("cpu"), "fp16")).fit()[0]
    assert result.status == "completed"
    assert all(math.isfinite(r["train_loss"]) for r in result.history)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    with pytest.raises(ValueError, match="one member per model"):
        _trainer(dev.Placement(torch.device("cpu"), "fp16"), seeds=(0, 1))


def test_fp16_members_train_one_after_another(cli, tmp_path, monkeypatch):
    """With fp16 each member has its own loss scaler, so the job trains them one by one,
    each equal to its single run (fp16 allowed on the CPU for this test only)."""
    allowed = dev.check_precision

    def lenient(precision, device):
        return dev.PRECISIONS["fp16"] if precision == "fp16" else allowed(precision, device)

    monkeypatch.setattr(dev, "check_precision", lenient)
    fp16 = ["trainer.precision=fp16"]
    batched = cli("run", *FAST, *fp16, "seeds=2", "hydra.run.dir=batched")
    assert "training the 2 seeds one after another" in batched.stderr
    cli("run", *FAST, *fp16, "seed=1", "hydra.run.dir=single")
    member = read_metrics(tmp_path / "batched" / "seed_1")
    single = read_metrics(tmp_path / "single")
    assert member["precision"] == "fp16" and member["metrics"] == single["metrics"]
    assert _history(tmp_path / "batched" / "seed_1") == _history(tmp_path / "single")


# -- on a GPU ----------------------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
def test_cuda_matches_cpu(cli, tmp_path):
    """The same job on CUDA and on the CPU: same initialisation and sample order, so the
    histories agree up to float rounding and the test metrics closely."""
    args = [*FAST, "seeds=3", "eval.posthoc_tau=1.0"]
    cli("run", *args, "trainer.device=cpu", "hydra.run.dir=cpu")
    cli("run", *args, "trainer.device=cuda", "hydra.run.dir=cuda")
    for seed in (0, 1, 2):
        cpu, gpu = (tmp_path / d / f"seed_{seed}" for d in ("cpu", "cuda"))
        assert read_metrics(gpu)["device"].startswith("cuda:")
        for a, b in zip(_history(cpu), _history(gpu), strict=True):
            assert float(b["train_loss"]) == pytest.approx(float(a["train_loss"]), rel=1e-4)
            assert float(b["val_loss"]) == pytest.approx(float(a["val_loss"]), rel=1e-4)
        m_cpu, m_gpu = read_metrics(cpu)["metrics"], read_metrics(gpu)["metrics"]
        assert m_gpu["balanced_accuracy"] == pytest.approx(m_cpu["balanced_accuracy"], abs=0.02)


@pytest.mark.gpu
@needs_cuda
def test_batched_members_on_cuda_match_their_single_runs(cli, tmp_path):
    """On a GPU member k of a batch equals its single run to rounding (not bit for bit:
    cuBLAS may choose another kernel for K members than for one)."""
    cli("run", *FAST, "trainer.device=cuda", "seeds=3", "hydra.run.dir=batched")
    cli("run", *FAST, "trainer.device=cuda", "seed=2", "hydra.run.dir=single")
    batched, single = tmp_path / "batched" / "seed_2", tmp_path / "single"
    assert read_metrics(batched)["config_hash"] == read_metrics(single)["config_hash"]
    for a, b in zip(_history(single), _history(batched), strict=True):
        assert float(b["train_loss"]) == pytest.approx(float(a["train_loss"]), rel=1e-5)
        assert float(b["val_loss"]) == pytest.approx(float(a["val_loss"]), rel=1e-5)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(("name", "task", "params"), CASES)
def test_each_loss_on_cuda_equals_cpu(name, task, params):
    """Values and gradients in float64 on CUDA equal the CPU's (soft-DTW and DILATE
    round-trip through their CPU kernels and back)."""
    pred, target = inputs(task, classes=_classes(name))
    values, grads = [], []
    for device in ("cpu", "cuda"):
        # a fresh loss per device: one with per-sample state (SOAP) updates it when called
        loss = make(name, task, **params).double().to(device)
        extra = {"index": torch.arange(len(target), device=device)} if wants_index(loss) else {}
        p = pred.to(device).requires_grad_(True)
        value = loss(p, target.to(device), **extra)
        value.backward()
        assert value.device.type == device and p.grad.device.type == device
        values.append(value.detach().cpu())
        grads.append(p.grad.cpu())
    torch.testing.assert_close(values[1], values[0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-9, atol=1e-12)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_cuda(cli, tmp_path, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    cli("run", *FAST, "trainer.device=cuda", f"trainer.precision={precision}", "seeds=2")
    cli("run", *FAST, "trainer.device=cuda", "hydra.run.dir=fp32")
    fp32 = read_metrics(tmp_path / "fp32")
    (job,) = [p for p in (tmp_path / "outputs").glob("*/*") if p.is_dir()]
    for seed in (0, 1):
        rec = read_metrics(job / f"seed_{seed}")
        assert rec["status"] == "completed" and rec["precision"] == precision
    rec0 = read_metrics(job / "seed_0")
    assert rec0["metrics"]["balanced_accuracy"] == pytest.approx(
        fp32["metrics"]["balanced_accuracy"], abs=0.1
    )


@pytest.mark.gpu
@needs_cuda
def test_a_gpu_index_past_the_last_is_one_line(cli):
    value = f"cuda:{torch.cuda.device_count()}"
    line = _one_line(cli("run", *FAST, f"trainer.device={value}", check=False))
    assert f"trainer.device={value}" in line and "CUDA device(s)" in line
