"""Soft-DTW in pure torch, one anti-diagonal at a time: value, alignment E, Hessian product.

Cells on an anti-diagonal ``d = i + j`` depend only on the two previous
anti-diagonals, so each step is a handful of vectorised operations over the
batch and the diagonal (``n + m - 1`` steps instead of ``n * m`` Python cells).
The matrices are stored *skewed*: ``S[b, d, i] = R[b, i, d - i]``, so the three
neighbours of a diagonal are plain slices of the previous two rows.
Indices are 1-based as in Cuturi & Blondel (2017); row/column 0 is the boundary.
Everything runs in float64.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch


class _Grid(NamedTuple):
    diag: torch.Tensor  # skewed diagonal index i + j of each cell (row-major)
    row: torch.Tensor  # skewed row index i of each cell
    ranges: tuple[tuple[int, int], ...]  # in-band rows [lo, hi] of each diagonal
    inside: torch.Tensor  # bool [n + m + 3, n + 2]: skewed positions of in-band cells


@functools.lru_cache(maxsize=32)
def _grid(n: int, m: int, bw: int) -> _Grid:
    i = torch.arange(1, n + 1).repeat_interleave(m)
    j = torch.arange(1, m + 1).repeat(n)
    inside = torch.zeros(n + m + 3, n + 2, dtype=torch.bool)
    ranges = []
    for d in range(n + m + 1):
        lo, hi = max(1, d - m), min(n, d - 1)
        if bw >= 0:  # |i - j| = |2i - d| <= bw
            lo, hi = max(lo, math.ceil((d - bw) / 2)), min(hi, (d + bw) // 2)
        ranges.append((lo, hi))
        inside[d, lo : hi + 1] = True
    return _Grid(i + j, i, tuple(ranges), inside)


class State:
    """What the backward pass and the Hessian product reuse from the forward pass."""

    def __init__(self, D: torch.Tensor, gamma: float, bw: int) -> None:
        self.B, self.n, self.m = D.shape
        self.gamma, self.bw = gamma, bw
        self.diag, self.row, self.ranges, self.inside = _grid(self.n, self.m, bw)
        self.D = self.skew(D, 0.0)
        self.S = torch.full_like(self.D, math.inf)
        self.weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.E: torch.Tensor | None = None

    def skew(self, X: torch.Tensor, fill: float) -> torch.Tensor:
        """``[B, n, m]`` -> ``[B, n + m + 3, n + 2]`` with ``out[b, i + j, i] = X[b, i-1, j-1]``."""
        out = X.new_full((self.B, self.n + self.m + 3, self.n + 2), fill)
        out[:, self.diag, self.row] = X.reshape(self.B, -1)
        return out

    def unskew(self, Xs: torch.Tensor) -> torch.Tensor:
        return Xs[:, self.diag, self.row].reshape(self.B, self.n, self.m)


def forward(D: torch.Tensor, gamma: float, bw: int) -> tuple[torch.Tensor, State]:
    """Soft-DTW value ``R[n, m]`` per batch element (Cuturi & Blondel 2017, Algorithm 1)."""
    st = State(D, gamma, bw)
    S, Ds = st.S, st.D
    S[:, 0, 0] = 0.0
    scale = -1.0 / gamma
    for d in range(2, st.n + st.m + 1):
        lo, hi = st.ranges[d]
        prev = torch.stack(
            (S[:, d - 2, lo - 1 : hi], S[:, d - 1, lo - 1 : hi], S[:, d - 1, lo : hi + 1])
        )
        low = prev.amin(0)  # finite: every in-band cell has a finite predecessor
        lse = (prev - low).mul_(scale).exp_().sum(0).log_()
        S[:, d, lo : hi + 1] = (Ds[:, d, lo : hi + 1] + low).sub_(lse, alpha=gamma)
    return S[:, st.n + st.m, st.n].clone(), st


def _weights(st: State) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weight of each cell in the soft minimum of its successor below, right and diagonal.

    ``w(ij -> s) = exp((R[s] - D[s] - R[i, j]) / gamma)``; ``R[s] - D[s]`` is the
    soft minimum computed at ``s``, set to ``-inf`` off the grid and the band so
    that missing successors weigh exactly 0.
    """
    if st.weights is None:
        S, inv = st.S, 1.0 / st.gamma
        smin = torch.where(st.inside, S - st.D, -math.inf)
        down = (smin[:, 1:, 1:] - S[:, :-1, :-1]).mul_(inv).exp_()
        right = (smin[:, 1:, :] - S[:, :-1, :]).mul_(inv).exp_()
        diag = (smin[:, 2:, 1:] - S[:, :-2, :-1]).mul_(inv).exp_()
        st.weights = (down, right, diag)
    return st.weights


def _reverse(st: State, F: torch.Tensor, source: torch.Tensor | None) -> None:
    """In place, from the last diagonal back: ``F[d] = sum_s w * F[s] + source[d]``."""
    down, right, diag = _weights(st)
    for d in range(st.n + st.m - 1, 1, -1):
        lo, hi = st.ranges[d]
        new = F[:, d + 1, lo + 1 : hi + 2] * down[:, d, lo : hi + 1]
        new.addcmul_(F[:, d + 1, lo : hi + 1], right[:, d, lo : hi + 1])
        new.addcmul_(F[:, d + 2, lo + 1 : hi + 2], diag[:, d, lo : hi + 1])
        if source is not None:
            new += source[:, d, lo : hi + 1]
        F[:, d, lo : hi + 1] = new


def backward(st: State) -> torch.Tensor:
    """``E = d R[n, m] / d D`` (Cuturi & Blondel 2017, Algorithm 2), shape ``[B, n, m]``."""
    E = torch.zeros_like(st.S)
    E[:, st.n + st.m, st.n] = 1.0
    _reverse(st, E, None)
    st.E = E
    return st.unskew(E)


def hvp(st: State, G: torch.Tensor) -> torch.Tensor:
    """Hessian of ``R[n, m]`` with respect to ``D``, applied to ``G`` (``[B, n, m]``).

    Forward-mode through both recursions (Mensch & Blondel 2018): the tangent
    ``Rd`` of ``R`` along ``G``, then the tangent ``Ed`` of ``E``:
    ``Ed[ij] = sum_s w(ij->s) (Ed[s] + E[s] (Rd[s] - G[s] - Rd[ij]) / gamma)``.
    Since ``sum_s w(ij->s) E[s] = E[ij]``, the auxiliary ``F = Ed + E (Rd - G) / gamma``
    obeys ``F[ij] = sum_s w(ij->s) F[s] - E[ij] G[ij] / gamma``, a recursion of the
    same form as ``E``'s; ``Ed`` is recovered from ``F`` at the end.
    """
    if st.E is None:
        backward(st)
    down, right, diag = _weights(st)
    Gs = st.skew(G, 0.0)
    Rd = torch.zeros_like(st.S)
    for d in range(2, st.n + st.m + 1):
        lo, hi = st.ranges[d]
        new = Gs[:, d, lo : hi + 1].addcmul(Rd[:, d - 2, lo - 1 : hi], diag[:, d - 2, lo - 1 : hi])
        new.addcmul_(Rd[:, d - 1, lo - 1 : hi], down[:, d - 1, lo - 1 : hi])
        new.addcmul_(Rd[:, d - 1, lo : hi + 1], right[:, d - 1, lo : hi + 1])
        Rd[:, d, lo : hi + 1] = new
    E = st.E
    F = torch.zeros_like(st.S)
    n, m = st.n, st.m
    F[:, n + m, n] = (Rd[:, n + m, n] - Gs[:, n + m, n]) / st.gamma
    _reverse(st, F, -E * Gs / st.gamma)
    return st.unskew(F - E * (Rd - Gs) / st.gamma)
