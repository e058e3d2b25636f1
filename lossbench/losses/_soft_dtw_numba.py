"""Soft-DTW kernels compiled with numba: value, alignment E and Hessian-vector product.

Cuturi & Blondel 2017 (Algorithms 1 and 2) and the tangent recursions of
Mensch & Blondel 2018 for the Hessian-vector product, in float64, one compiled
loop over cells. Arrays are laid out ``[n, m, B]`` with the batch innermost:
each cell's recursion is a serial chain of ``exp``/``log`` (latency-bound),
and running the B independent chains side by side was measured 1.6x faster
than one series at a time. Cells with ``|i - j| > bw`` (``bw >= 0``) are
outside the Sakoe-Chiba band and never visited. Indices are 1-based; row and
column 0 are the boundary.

``chunks`` splits the batch into that many slices under ``prange``: they run in
parallel only when a kernel is compiled with ``parallel=True``. The shipped
kernels are serial (``chunks=1``); ``benchmarks/bench_soft_dtw.py`` measures both.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _cols(i, m, bw):
    """First and last column of row ``i`` inside the band."""
    if bw < 0:
        return 1, m
    return max(1, i - bw), min(m, i + bw)


@njit(cache=True, inline="always")
def _inside(i, j, bw):
    return bw < 0 or abs(i - j) <= bw


@njit(cache=True, inline="always")
def _slice(c, chunks, B):
    return c * B // chunks, (c + 1) * B // chunks


@njit(cache=True)
def forward(D, gamma, bw, chunks):
    """R ``[n+2, m+2, B]``: ``R[i, j] = D[i-1, j-1] + softmin(R[i-1, j-1], R[i-1, j], R[i, j-1])``.

    ``R[0, 0] = 0``; every other boundary cell and every cell outside the band is +inf.
    """
    n, m, B = D.shape
    inv = 1.0 / gamma
    R = np.full((n + 2, m + 2, B), np.inf)
    R[0, 0, :] = 0.0
    for c in prange(chunks):
        b0, b1 = _slice(c, chunks, B)
        for i in range(1, n + 1):
            lo, hi = _cols(i, m, bw)
            for j in range(lo, hi + 1):
                for b in range(b0, b1):
                    r0 = -R[i - 1, j - 1, b] * inv
                    r1 = -R[i - 1, j, b] * inv
                    r2 = -R[i, j - 1, b] * inv
                    top = max(r0, max(r1, r2))
                    s = math.exp(r0 - top) + math.exp(r1 - top) + math.exp(r2 - top)
                    R[i, j, b] = D[i - 1, j - 1, b] - gamma * (math.log(s) + top)
    return R


@njit(cache=True)
def backward(D, R, gamma, bw, chunks):
    """E = dR[n, m]/dD ``[n, m, B]``: ``E[i, j] = sum over successors s of E[s] w(ij -> s)``.

    ``w(ij -> s) = exp((R[s] - D[s] - R[i, j]) / gamma)`` is the weight of cell
    ``(i, j)`` in the soft minimum of its successor ``s``.
    """
    n, m, B = D.shape
    inv = 1.0 / gamma
    E = np.zeros((n + 2, m + 2, B))
    E[n, m, :] = 1.0
    for c in prange(chunks):
        b0, b1 = _slice(c, chunks, B)
        for i in range(n, 0, -1):
            lo, hi = _cols(i, m, bw)
            for j in range(hi, lo - 1, -1):
                if i == n and j == m:
                    continue
                down = i < n and _inside(i + 1, j, bw)
                right = j < m and _inside(i, j + 1, bw)
                diag = i < n and j < m
                for b in range(b0, b1):
                    r = R[i, j, b]
                    e = 0.0
                    if down:
                        e += E[i + 1, j, b] * math.exp((R[i + 1, j, b] - D[i, j - 1, b] - r) * inv)
                    if right:
                        e += E[i, j + 1, b] * math.exp((R[i, j + 1, b] - D[i - 1, j, b] - r) * inv)
                    if diag:
                        e += E[i + 1, j + 1, b] * math.exp(
                            (R[i + 1, j + 1, b] - D[i, j, b] - r) * inv
                        )
                    E[i, j, b] = e
    return E[1 : n + 1, 1 : m + 1]


@njit(cache=True)
def hvp(D, R, E, G, gamma, bw, chunks):
    """The Hessian of ``R[n, m]`` with respect to ``D`` applied to ``G``, all ``[n, m, B]``.

    Forward-mode through both recursions: the tangent ``Rd`` of R along G, then
    the tangent ``Ed`` of E,
    ``Ed[ij] = sum_s w(ij -> s) (Ed[s] + E[s] (Rd[s] - G[s] - Rd[ij]) / gamma)``.
    """
    n, m, B = D.shape
    inv = 1.0 / gamma
    Rd = np.zeros((n + 2, m + 2, B))
    Ed = np.zeros((n + 2, m + 2, B))
    for c in prange(chunks):
        b0, b1 = _slice(c, chunks, B)
        for i in range(1, n + 1):
            lo, hi = _cols(i, m, bw)
            for j in range(lo, hi + 1):
                for b in range(b0, b1):
                    smin = R[i, j, b] - D[i - 1, j - 1, b]
                    Rd[i, j, b] = (
                        G[i - 1, j - 1, b]
                        + math.exp((smin - R[i - 1, j - 1, b]) * inv) * Rd[i - 1, j - 1, b]
                        + math.exp((smin - R[i - 1, j, b]) * inv) * Rd[i - 1, j, b]
                        + math.exp((smin - R[i, j - 1, b]) * inv) * Rd[i, j - 1, b]
                    )
        for i in range(n, 0, -1):
            lo, hi = _cols(i, m, bw)
            for j in range(hi, lo - 1, -1):
                if i == n and j == m:
                    continue
                down = i < n and _inside(i + 1, j, bw)
                right = j < m and _inside(i, j + 1, bw)
                diag = i < n and j < m
                for b in range(b0, b1):
                    r, rd = R[i, j, b], Rd[i, j, b]
                    acc = 0.0
                    if down:
                        w = math.exp((R[i + 1, j, b] - D[i, j - 1, b] - r) * inv)
                        ds = Rd[i + 1, j, b] - G[i, j - 1, b] - rd
                        acc += w * (Ed[i + 1, j, b] + E[i, j - 1, b] * ds * inv)
                    if right:
                        w = math.exp((R[i, j + 1, b] - D[i - 1, j, b] - r) * inv)
                        ds = Rd[i, j + 1, b] - G[i - 1, j, b] - rd
                        acc += w * (Ed[i, j + 1, b] + E[i - 1, j, b] * ds * inv)
                    if diag:
                        w = math.exp((R[i + 1, j + 1, b] - D[i, j, b] - r) * inv)
                        ds = Rd[i + 1, j + 1, b] - G[i, j, b] - rd
                        acc += w * (Ed[i + 1, j + 1, b] + E[i, j, b] * ds * inv)
                    Ed[i, j, b] = acc
    return Ed[1 : n + 1, 1 : m + 1]
