"""Soft-DTW kernels compiled with numba: value, alignment E and Hessian-vector product.

Each kernel loops over the batch and solves one ``n x m`` dynamic programme per
element in float64 (Cuturi & Blondel 2017, Algorithms 1 and 2; the tangent
recursions of Mensch & Blondel 2018 for the Hessian-vector product). The loops
over cells are compiled, so the cost is the arithmetic, not Python. Cells with
``|i - j| > bw`` (``bw >= 0``) are outside the Sakoe-Chiba band and never visited.

``prange`` runs the batch in parallel only when a kernel is compiled with
``parallel=True``; the shipped kernels are serial (see ``benchmarks/bench_soft_dtw.py``:
jobs run one thread each on this 2-core machine).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _cols(i, m, bw):
    """First and last column of row ``i`` (1-based) inside the band."""
    if bw < 0:
        return 1, m
    return max(1, i - bw), min(m, i + bw)


@njit(cache=True, inline="always")
def _inside(i, j, bw):
    return bw < 0 or abs(i - j) <= bw


@njit(cache=True)
def forward(D, gamma, bw):
    """R [B, n+2, m+2]: R[i, j] = D[i-1, j-1] + softmin(R[i-1, j-1], R[i-1, j], R[i, j-1]).

    ``R[0, 0] = 0``; every other boundary cell and every cell outside the band is +inf.
    """
    B, n, m = D.shape
    inv = 1.0 / gamma
    R = np.full((B, n + 2, m + 2), np.inf)
    for b in prange(B):
        R[b, 0, 0] = 0.0
        for i in range(1, n + 1):
            lo, hi = _cols(i, m, bw)
            for j in range(lo, hi + 1):
                r0 = -R[b, i - 1, j - 1] * inv
                r1 = -R[b, i - 1, j] * inv
                r2 = -R[b, i, j - 1] * inv
                top = max(r0, max(r1, r2))
                s = math.exp(r0 - top) + math.exp(r1 - top) + math.exp(r2 - top)
                R[b, i, j] = D[b, i - 1, j - 1] - gamma * (math.log(s) + top)
    return R


@njit(cache=True)
def backward(D, R, gamma, bw):
    """E = dR[n, m]/dD (B, n, m): E[i, j] = sum over successors s of E[s] * w(ij -> s).

    ``w(ij -> s) = exp((R[s] - D[s] - R[i, j]) / gamma)`` is the weight of cell
    ``(i, j)`` in the soft minimum of its successor ``s``.
    """
    B, n, m = D.shape
    inv = 1.0 / gamma
    out = np.empty((B, n, m))
    for b in prange(B):
        E = np.zeros((n + 2, m + 2))
        E[n, m] = 1.0
        for i in range(n, 0, -1):
            lo, hi = _cols(i, m, bw)
            for j in range(hi, lo - 1, -1):
                if i == n and j == m:
                    continue
                r = R[b, i, j]
                e = 0.0
                if i < n and _inside(i + 1, j, bw):
                    e += E[i + 1, j] * math.exp((R[b, i + 1, j] - D[b, i, j - 1] - r) * inv)
                if j < m and _inside(i, j + 1, bw):
                    e += E[i, j + 1] * math.exp((R[b, i, j + 1] - D[b, i - 1, j] - r) * inv)
                if i < n and j < m:
                    e += E[i + 1, j + 1] * math.exp((R[b, i + 1, j + 1] - D[b, i, j] - r) * inv)
                E[i, j] = e
        out[b] = E[1 : n + 1, 1 : m + 1]
    return out


@njit(cache=True)
def hvp(D, R, E, G, gamma, bw):
    """The Hessian of R[n, m] with respect to D applied to G (B, n, m).

    Forward-mode through both recursions: the tangent of R along G, then the
    tangent of E (Mensch & Blondel 2018, Algorithm "DTW Hessian product").
    """
    B, n, m = D.shape
    inv = 1.0 / gamma
    out = np.empty((B, n, m))
    for b in prange(B):
        Rd = np.zeros((n + 2, m + 2))  # tangent of R
        Ed = np.zeros((n + 2, m + 2))  # tangent of E
        for i in range(1, n + 1):
            lo, hi = _cols(i, m, bw)
            for j in range(lo, hi + 1):
                smin = R[b, i, j] - D[b, i - 1, j - 1]
                Rd[i, j] = (
                    G[b, i - 1, j - 1]
                    + math.exp((smin - R[b, i - 1, j - 1]) * inv) * Rd[i - 1, j - 1]
                    + math.exp((smin - R[b, i - 1, j]) * inv) * Rd[i - 1, j]
                    + math.exp((smin - R[b, i, j - 1]) * inv) * Rd[i, j - 1]
                )
        for i in range(n, 0, -1):
            lo, hi = _cols(i, m, bw)
            for j in range(hi, lo - 1, -1):
                if i == n and j == m:
                    continue
                r = R[b, i, j]
                rd = Rd[i, j]
                acc = 0.0
                if i < n and _inside(i + 1, j, bw):
                    w = math.exp((R[b, i + 1, j] - D[b, i, j - 1] - r) * inv)
                    ds = Rd[i + 1, j] - G[b, i, j - 1] - rd
                    acc += w * (Ed[i + 1, j] + E[b, i, j - 1] * ds * inv)
                if j < m and _inside(i, j + 1, bw):
                    w = math.exp((R[b, i, j + 1] - D[b, i - 1, j] - r) * inv)
                    ds = Rd[i, j + 1] - G[b, i - 1, j] - rd
                    acc += w * (Ed[i, j + 1] + E[b, i - 1, j] * ds * inv)
                if i < n and j < m:
                    w = math.exp((R[b, i + 1, j + 1] - D[b, i, j] - r) * inv)
                    ds = Rd[i + 1, j + 1] - G[b, i, j] - rd
                    acc += w * (Ed[i + 1, j + 1] + E[b, i, j] * ds * inv)
                Ed[i, j] = acc
        out[b] = Ed[1 : n + 1, 1 : m + 1]
    return out
