"""A hand-written PyTorch script doing the job of ``bench_peers.py``, as a user would.

5 losses x 5 seeds on long-tailed digits, 40 epochs, one process: scikit-learn's
8x8 digits cut to lossbench's ``digits_lt`` (per class, a seeded permutation gives
50 test, 20 validation and ``floor(100 * 100^(-c/9))`` training rows; standard
scaling fitted on the training rows), an MLP 64-64-64-10 with ReLU, Adam lr 1e-3,
batch 128 by ``randperm`` slicing, validation balanced accuracy every epoch, the
test balanced accuracy of the best epoch. The losses are written out by hand:
cross-entropy, focal (gamma 2), logit-adjusted (tau 1), balanced softmax and label
smoothing (0.1). Writes ``{loss: [test balanced accuracy per seed]}`` as JSON.

    python benchmarks/plain_longtail.py OUT.json
"""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler
from torch import nn

LOSSES = ["ce", "focal", "logit_adjusted", "balanced_softmax", "label_smoothing"]
SEEDS = [0, 1, 2, 3, 4]
EPOCHS, BATCH, LR = 40, 128, 1e-3


def load() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    x, y = load_digits(return_X_y=True)
    counts = [max(1, int(100 * 100.0 ** (-c / 9))) for c in range(10)]
    rng = np.random.default_rng(0)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        parts["test"].append(idx[:50])
        parts["val"].append(idx[50:70])
        parts["train"].append(idx[70 : 70 + counts[c]])
    rows = {k: np.concatenate(v) for k, v in parts.items()}
    scaler = StandardScaler().fit(x[rows["train"]])
    return {
        k: (torch.tensor(scaler.transform(x[i]), dtype=torch.float32), torch.tensor(y[i]))
        for k, i in rows.items()
    }


def make_loss(name: str, counts: torch.Tensor):
    log_prior = (counts / counts.sum()).log()
    if name == "ce":
        return F.cross_entropy
    if name == "focal":

        def focal(z, t):
            logp = -F.cross_entropy(z, t, reduction="none")
            return (-((1 - logp.exp()) ** 2) * logp).mean()

        return focal
    if name == "logit_adjusted":
        return lambda z, t: F.cross_entropy(z + log_prior, t)
    if name == "balanced_softmax":
        return lambda z, t: F.cross_entropy(z + counts.log(), t)
    if name == "label_smoothing":
        return lambda z, t: F.cross_entropy(z, t, label_smoothing=0.1)
    raise ValueError(name)


def train(data, loss_fn, seed: int) -> float:
    torch.manual_seed(seed)
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    model = nn.Sequential(
        nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    best, best_state = -1.0, None
    for _ in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(ytr))
        for start in range(0, len(ytr), BATCH):
            idx = perm[start : start + BATCH]
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            score = balanced_accuracy_score(yva, model(xva).argmax(1))
        if score > best:
            best, best_state = score, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    with torch.no_grad():
        return float(balanced_accuracy_score(yte, model(xte).argmax(1)))


def main(out_path: str) -> None:
    torch.set_num_threads(1)
    data = load()
    counts = torch.bincount(data["train"][1], minlength=10).float()
    result = {name: [train(data, make_loss(name, counts), s) for s in SEEDS] for name in LOSSES}
    with open(out_path, "w") as fh:
        json.dump(result, fh)
    for name, accs in result.items():
        print(f"{name:<18} balanced accuracy {np.mean(accs):.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
