"""A user's plain ``nn.Module`` as a member model: K seeds of it batched with ``torch.func``.

:class:`PlainMembers` builds the module K times, each under its own seed (torch's global
stream seeded from ``seeds[k]``'s ``init`` stream, so the module's own default
initialisation is used), and meets the member-model contract
(:mod:`lossbench.models.contract`) in one of two ways:

* ``vmap``: the K copies' parameters and buffers are stacked into tensors ``[K, ...]``
  (``torch.func.stack_module_state``) and the forward pass is
  ``torch.func.vmap(torch.func.functional_call(module, ...))`` over the member dimension:
  one batched kernel per layer. Buffers are stacked too, so BatchNorm's running
  statistics are updated per member inside vmap.
* ``loop``: the K modules run one after another (an ``nn.ModuleList``), used where the
  module cannot be vmapped (data-dependent control flow, state kept on the module, ...),
  where vmap would not be exact, and for modules that draw random numbers (dropout):
  vmap's ``randomness="different"`` draws every member's mask from one shared stream,
  so member k would depend on K; here each member's forward runs with torch's global
  stream set to its own state (seeded from ``derive_seed(seed, "dropout")``), exactly
  as in its single run.

Which one is used (``batching="auto"``) is decided once, before training, by a probe on
:data:`PROBE_BATCH` samples (on copies of the state): does a training forward draw random
numbers; does a pair of members run under vmap (training forward and backward, eval
forward); is member 0 of the pair bit for bit member 0 alone (output, gradients,
buffers). BatchNorm modules go to the loop without probing (:data:`INEXACT_UNDER_VMAP`).
When K > 1 members train in a loop, a warning line says why (:attr:`PlainMembers.warnings`,
added to every member's record). Measured on the CPU the loop costs about what vmap
costs for small models (README "Your own model"), so exactness wins ties.

Exactness: member ``k`` of a K-member model equals the 1-member model of seed ``k``
bit for bit in both modes as ``auto`` chooses them (tested: a Linear-LayerNorm-GELU
MLP under vmap, BatchNorm, dropout and branching modules in the loop). Each member's
slice of a stacked parameter is padded to a multiple of
:data:`~lossbench.models.stacked.ALIGN` floats so that fused optimizers treat every
member alike (see :mod:`lossbench.models.stacked`). ``batching="vmap"`` forces vmap:
float32 rounding differences per step (BatchNorm: up to 1e-6) and, with dropout, masks
that differ from the single run's.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from lossbench.errors import ConfigError
from lossbench.models.contract import Head
from lossbench.models.stacked import ALIGN
from lossbench.seeding import derive_seed

log = logging.getLogger(__name__)

BATCHING = ("auto", "vmap", "loop")
# Layers whose vmapped kernels round differently from the unbatched ones for some sizes
# (BatchNorm: from 1e-7 at 32 channels, but equal at 8; the probe alone would miss it).
INEXACT_UNDER_VMAP: tuple[type, ...] = (nn.modules.batchnorm._BatchNorm,)
# Samples in the probe batch: CPU kernels switch paths with the batch size (a Linear with
# one output rounds differently batched from 16 rows on, measured), so probe a full one.
PROBE_BATCH = 64


def seeded_module(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``factory()`` with torch's global stream seeded from ``seed`` (restored afterwards), so
    the module's own initialisation draws member ``seed``'s numbers."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        return factory()


def _padded(n: int) -> int:
    return -(-n // ALIGN) * ALIGN if n % ALIGN else n


def padded_stack(stacked: torch.Tensor, requires_grad: bool = True) -> nn.Parameter:
    """``[K, *shape]`` stored as a parameter ``[K, n']``: each member's values flattened and
    zero-padded to a multiple of :data:`ALIGN` floats (see :mod:`lossbench.models.stacked`)."""
    k = stacked.shape[0]
    size = math.prod(stacked.shape[1:])
    store = torch.zeros(k, _padded(size), dtype=stacked.dtype, device=stacked.device)
    store[:, :size] = stacked.detach().reshape(k, size)
    return nn.Parameter(store, requires_grad=requires_grad)


def unpadded(p: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The ``[K, *shape]`` view of a :func:`padded_stack` parameter, without the padding."""
    size = math.prod(shape)
    return (p if p.shape[1] == size else p[:, :size]).view(p.shape[0], *shape)


def last_linear(module: nn.Module) -> str | None:
    """The name of ``module``'s last leaf module (registration order) if it is an
    ``nn.Linear``: the classifier, for decoupled training."""
    leaves = [n for n, m in module.named_modules() if not list(m.children())]
    if leaves and isinstance(module.get_submodule(leaves[-1]), nn.Linear):
        return leaves[-1]
    return None


class _MemberRng:
    """One state of torch's global stream (CPU, and the GPU's where the data live) per
    member, swapped in around that member's forward: each member draws its own numbers."""

    def __init__(self, seeds: Sequence[int]) -> None:
        self.seeds = list(seeds)
        self.cpu: list[torch.Tensor] = []
        self.cuda: dict[int, torch.Tensor] = {}
        for seed in self.seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(seed, "dropout"))
                self.cpu.append(torch.get_rng_state())

    @contextlib.contextmanager
    def member(self, k: int, device: torch.device) -> Iterator[None]:
        cuda = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.set_rng_state(self.cpu[k])
            if cuda:
                if k in self.cuda:
                    torch.cuda.set_rng_state(self.cuda[k], device)
                else:
                    torch.cuda.manual_seed(derive_seed(self.seeds[k], "dropout"))
            yield
            self.cpu[k] = torch.get_rng_state()
            if cuda:
                self.cuda[k] = torch.cuda.get_rng_state(device)


def draws_random(module: nn.Module, x: torch.Tensor, out_features: int | None = None) -> bool:
    """True if a training-mode forward of (a copy of) ``module`` on ``x`` uses torch's
    global random stream (dropout and the like). Checks the output's shape on the way:
    ``[B, out_features]`` (or any shape of ``out_features`` values per sample)."""
    probe = copy.deepcopy(module).train()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        before = torch.get_rng_state()
        out = probe(x)
        random = not torch.equal(before, torch.get_rng_state())
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"forward must return one tensor, got {type(out).__name__}")
    per_sample = out[0].numel() if out.ndim > 0 and out.shape[0] == len(x) else None
    if out_features is not None and per_sample != out_features:
        raise ValueError(
            f"forward returns shape {list(out.shape)} for {len(x)} samples; expected "
            f"[{len(x)}, {out_features}] (out_features values per sample)"
        )
    return random


class PlainMembers(nn.Module):
    """K seeds of a plain module, meeting the member-model contract.

    Args:
        factory: builds one member (called K times, once per seed, under that seed).
        seeds: one seed per member.
        input_shape: shape of one sample (for the probe input).
        batching: ``auto`` (vmap where the probe passes and the module draws no random
            numbers, else loop), ``vmap`` or ``loop`` (forced).
        name: the module's name, for messages.
        out_features: values per sample the module must return (checked by the probe).
        announce: say (warning line, :attr:`warnings`) when K > 1 members train in a loop;
            off for lossbench's own models, whose mode is documented (README).
    """

    def __init__(
        self,
        factory: Callable[[], nn.Module],
        seeds: Sequence[int],
        input_shape: Sequence[int],
        *,
        batching: str = "auto",
        name: str = "model",
        out_features: int | None = None,
        announce: bool = True,
    ) -> None:
        super().__init__()
        if not seeds:
            raise ValueError("a model needs at least one seed")
        if batching not in BATCHING:
            raise ValueError(f"batching must be one of {', '.join(BATCHING)}, got {batching!r}")
        self.seeds = [int(s) for s in seeds]
        self.name = name
        modules = [seeded_module(factory, s) for s in self.seeds]
        probe_x = torch.randn(PROBE_BATCH, *input_shape, generator=torch.Generator().manual_seed(0))
        self.random = draws_random(modules[0], probe_x, out_features)
        self.warnings: list[str] = []
        # forced vmap of a random module: each member its own masks, from one shared stream
        self._randomness = "different" if self.random else "error"
        reason = None
        if batching == "loop":
            reason = "model._batching_=loop"
        elif batching == "vmap":
            reason = _vmap_error([modules[0], modules[0]], probe_x, self._randomness)
            if reason is not None:
                raise ConfigError(f"model._batching_=vmap: {name}: {reason}; use auto or loop")
        elif self.random:
            reason = (
                "it draws random numbers (dropout): vmapped, a seed would not draw its single "
                "run's (model._batching_=vmap to batch anyway)"
            )
        elif any(isinstance(m, INEXACT_UNDER_VMAP) for m in modules[0].modules()):
            reason = (
                "vmapped BatchNorm is not bitwise a single seed's (model._batching_=vmap to "
                "batch anyway)"
            )
        else:  # auto: vmap where it runs and keeps every member as exact as its single run
            probe_mate = seeded_module(factory, self.seeds[0] + 1)
            reason = _vmap_probe([modules[0], probe_mate], probe_x)
        self.mode = "loop" if reason is not None else "vmap"
        if self.mode == "loop":
            self.members = nn.ModuleList(modules)
            self._rng = _MemberRng(self.seeds) if self.random else None
            self._order = [n for n, p in modules[0].named_parameters() if p.requires_grad]
            self._head_name = last_linear(modules[0])
            self._head_keys: list[str] = []
            self._head_shapes: list[tuple[int, ...]] = []
            self.head = nn.ParameterList()  # filled by classifier_head()
            if len(self.seeds) > 1 and announce:
                message = (
                    f"note: {name}: the {len(self.seeds)} seeds train one after another, "
                    f"not vmapped: {reason}"
                )
                self.warnings.append(message)
                log.warning(message)
        else:
            self._stack(modules)

    # -- vmap storage -------------------------------------------------------
    def _stack(self, modules: list[nn.Module]) -> None:
        params, buffers = stack_module_state(modules)
        self._names = list(params)
        self._shapes = {n: tuple(p.shape[1:]) for n, p in params.items()}
        self.flat = nn.ParameterList(
            padded_stack(params[n], params[n].requires_grad) for n in self._names
        )
        self._buffer_names = list(buffers)
        for i, n in enumerate(self._buffer_names):
            self.register_buffer(f"buffer_{i}", buffers[n].clone())
        base = copy.deepcopy(modules[0]).to("meta")
        self.__dict__["_base"] = base  # not a submodule: its (meta) tensors are not state
        # built once: the batched forward of every step
        self._vmapped = vmap(_call(base), randomness=self._randomness)

    # -- loop storage: the classifiers of all members in one stacked parameter each
    def _stack_head(self) -> None:
        """Move every member's last Linear's weight (and bias) into stacked parameters
        (``head``), so the classifier is one ``[K, C, D]`` view as in vmap mode; each
        member's Linear reads its row of them (a forward pre-hook).

        Done on the first :meth:`classifier_head` call only: until then each member keeps
        its own parameters, so a member whose forward skips its classifier in a step
        gets no gradient there (an optimizer skips it), exactly as in its single run;
        a stacked parameter would get zeros for it. An optimizer built before this call
        holds the old classifier parameters: build one over ``Head.params``."""
        if self._head_keys or self._head_name is None:
            return
        lins = [m.get_submodule(self._head_name) for m in self.members]
        self._head_keys = [n for n in ("weight", "bias") if getattr(lins[0], n) is not None]
        self._head_shapes = [tuple(getattr(lins[0], n).shape) for n in self._head_keys]
        for n in self._head_keys:
            stacked = torch.stack([getattr(lin, n).detach() for lin in lins])
            self.head.append(padded_stack(stacked, getattr(lins[0], n).requires_grad))
        for k, lin in enumerate(lins):
            for n in self._head_keys:
                del lin._parameters[n]
            lin.register_forward_pre_hook(_HeadRow(self, k))
            _HeadRow(self, k)(lin, ())

    def _head_views(self) -> list[torch.Tensor]:
        return [unpadded(p, s) for p, s in zip(self.head, self._head_shapes, strict=True)]

    def _param(self, i: int) -> torch.Tensor:
        """Stacked parameter ``i`` as ``[K, *shape]`` (a view without the padding)."""
        return unpadded(self.flat[i], self._shapes[self._names[i]])

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {n: self._param(i) for i, n in enumerate(self._names)}
        buffers = {n: getattr(self, f"buffer_{i}") for i, n in enumerate(self._buffer_names)}
        return params, buffers

    # -- nn.Module ----------------------------------------------------------
    @property
    def n_members(self) -> int:
        return len(self.seeds)

    def train(self, mode: bool = True) -> PlainMembers:
        super().train(mode)
        if self.mode == "vmap":
            self._base.train(mode)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [K, B, *sample_shape] -> [K, B, out]."""
        if self.mode == "vmap":
            params, buffers = self._state()
            return self._vmapped(params, buffers, x)
        outs = []
        for k, member in enumerate(self.members):
            if self._rng is not None and self.training:
                with self._rng.member(k, x.device):
                    outs.append(member(x[k]))
            else:
                outs.append(member(x[k]))
        return torch.stack(outs)

    # -- the member-model contract -----------------------------------------
    def _member_tensors(self, k: int) -> list[torch.Tensor]:
        """Member ``k``'s trainable parameters, then its buffers (views)."""
        if self.mode == "loop":
            member = self.members[k]
            stacked = {
                f"{self._head_name}.{n}" if self._head_name else n: v[k]
                for n, v in zip(self._head_keys, self._head_views(), strict=True)
            }
            params = [stacked[n] if n in stacked else member.get_parameter(n) for n in self._order]
            return params + list(member.buffers())
        params, buffers = self._state()
        trainable = [
            self._param(i)[k] for i in range(len(self._names)) if self.flat[i].requires_grad
        ]
        return trainable + [b[k] for b in buffers.values()]

    def member_state(self, k: int) -> list[torch.Tensor]:
        """A copy of member ``k``'s trainable parameters and buffers (BatchNorm statistics)."""
        return [t.detach().clone() for t in self._member_tensors(k)]

    @torch.no_grad()
    def load_member_state(self, k: int, state: Sequence[torch.Tensor]) -> None:
        for t, s in zip(self._member_tensors(k), state, strict=True):
            t.copy_(s)

    def classifier_head(self) -> Head | None:
        """The module's last leaf module (in registration order) if it is an ``nn.Linear``:
        ``weight`` a view ``[K, C, D]`` and ``bias`` ``[K, C]`` of the stacked parameters."""
        if self.mode == "loop":
            if self._head_name is None:
                return None
            self._stack_head()
            views = dict(zip(self._head_keys, self._head_views(), strict=True))
            w, b = views["weight"], views.get("bias")
            params = list(self.head)
        else:
            name = last_linear(self._base)
            if name is None:
                return None
            prefix = f"{name}." if name else ""
            iw = self._names.index(f"{prefix}weight")
            w, b, params = self._param(iw), None, [self.flat[iw]]
            if f"{prefix}bias" in self._names:
                ib = self._names.index(f"{prefix}bias")
                b = self._param(ib)
                params.append(self.flat[ib])
        fan_in = w.shape[2]

        def reset_member(k: int, gen: torch.Generator) -> None:
            _linear_init(w[k], None if b is None else b[k], fan_in, gen)

        return Head(weight=w, bias=b, params=params, reset_member=reset_member)


class _HeadRow:
    """Forward pre-hook of member ``k``'s classifier: its weight and bias are row ``k`` of
    the stacked head parameters (views, so gradients reach them)."""

    def __init__(self, owner: PlainMembers, k: int) -> None:
        self.owner, self.k = owner, k

    def __call__(self, module: nn.Module, args: tuple) -> None:
        owner = self.owner
        for name, view in zip(owner._head_keys, owner._head_views(), strict=True):
            setattr(module, name, view[self.k])


def _linear_init(w: torch.Tensor, b: torch.Tensor | None, fan_in: int, gen: torch.Generator):
    """torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)), drawn from ``gen``."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        w.copy_(torch.rand(w.shape, generator=gen) * (2 * bound) - bound)
        if b is not None:
            b.copy_(torch.rand(b.shape, generator=gen) * (2 * bound) - bound)


def _call(base: nn.Module) -> Callable[..., torch.Tensor]:
    def one(params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (params, buffers), (x,))

    return one


def _vmap_run(
    modules: list[nn.Module], x: torch.Tensor, randomness: str = "error"
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Training forward/backward and eval forward of ``modules`` stacked under vmap, on
    copies of their state: (member 0's output, gradients, updated buffers, eval output),
    and the same for every member (for the exactness check)."""
    k = len(modules)
    params, buffers = stack_module_state([copy.deepcopy(m) for m in modules])
    base = copy.deepcopy(modules[0]).to("meta")
    xs = x.unsqueeze(0).expand(k, *x.shape)
    base.train()
    out = vmap(_call(base), randomness=randomness)(params, buffers, xs)
    trainable = [p for p in params.values() if p.requires_grad]
    grads = []
    if trainable:
        grads = torch.autograd.grad(out.float().square().sum(), trainable, allow_unused=True)
    base.eval()
    with torch.no_grad():
        evaluated = vmap(_call(base), randomness=randomness)(params, buffers, xs)
    first = [out, *(g for g in grads if g is not None), *buffers.values(), evaluated]
    return [t.detach()[0] for t in first], first


def _vmap_error(modules: list[nn.Module], x: torch.Tensor, randomness: str = "error") -> str | None:
    """The first line of the error ``modules`` raise under vmap, or None."""
    try:
        with torch.random.fork_rng(devices=[]):
            _vmap_run(modules, x, randomness)
    except Exception as exc:  # any failure means: this module cannot be vmapped
        text = str(exc).strip().splitlines()
        first = text[0] if text else ""
        first = first if len(first) <= 90 else first[:87] + "..."
        return f"vmap fails ({type(exc).__name__}: {first})"
    return None


def _vmap_probe(modules: list[nn.Module], x: torch.Tensor) -> str | None:
    """Why ``modules`` should not be batched with vmap, or None.

    Runs the stacked pair ``modules`` (two members) and the first alone under vmap
    (:func:`_vmap_run`); the reason is the first line of an error, or the largest
    difference when member 0 of the pair does not equal its run alone bit for bit
    (batched kernels that round differently, e.g. BatchNorm's).
    """
    error = _vmap_error(modules, x)
    if error is not None:
        return error
    pair, _ = _vmap_run(modules, x)
    alone, _ = _vmap_run(modules[:1], x)
    worst = max(
        (
            float((a.double() - b.double()).abs().max())
            for a, b in zip(pair, alone, strict=True)
            if not torch.equal(a, b)
        ),
        default=None,
    )
    if worst is None:
        return None
    return (
        f"vmapped, it is not bitwise a single seed's (up to {worst:.1e} on a probe batch; "
        "model._batching_=vmap to batch anyway)"
    )
