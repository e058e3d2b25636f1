"""A minimal hand-written PyTorch script doing what ``lossbench run`` does by default.

Same data (scikit-learn ``make_classification``, 1:9, stratified 60/20/20 split,
standard scaling), same MLP (in-64-64-2), CE, Adam lr 1e-3, batch 128, 30 epochs,
validation balanced accuracy every epoch, test metrics of the best epoch, a JSON
file at the end. Plain idiomatic PyTorch: ``nn.Sequential``, ``torch.optim.Adam``.
Used by ``bench_overhead.py`` as the whole-process baseline.
"""

from __future__ import annotations

import copy
import json
import sys

import torch
from sklearn import metrics
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn


def main(out_path: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = make_classification(
        n_samples=4000, n_features=20, n_informative=6, n_redundant=2,
        n_clusters_per_class=2, weights=[0.9], class_sep=0.8, flip_y=0.02, random_state=0,
    )  # fmt: skip
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0
    )
    scaler = StandardScaler().fit(x_train)

    def tensors(xs, ys):
        return torch.tensor(scaler.transform(xs), dtype=torch.float32), torch.tensor(ys)

    (xtr, ytr), (xva, yva), (xte, yte) = (
        tensors(x_train, y_train), tensors(x_val, y_val), tensors(x_test, y_test)
    )  # fmt: skip
    model = nn.Sequential(
        nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    best, best_state = -1.0, None
    for _ in range(30):
        model.train()
        perm = torch.randperm(len(ytr))
        for start in range(0, len(ytr), 128):
            idx = perm[start : start + 128]
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            score = metrics.balanced_accuracy_score(yva, model(xva).argmax(1))
        if score > best:
            best, best_state = score, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    with torch.no_grad():
        z = model(xte)
    pred, margin = z.argmax(1), z[:, 1] - z[:, 0]
    result = {
        "accuracy": metrics.accuracy_score(yte, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(yte, pred),
        "macro_f1": metrics.f1_score(yte, pred, average="macro"),
        "roc_auc": metrics.roc_auc_score(yte, margin),
        "average_precision": metrics.average_precision_score(yte, margin),
    }
    with open(out_path, "w") as fh:
        json.dump(result, fh)
    print(result)


if __name__ == "__main__":
    main(sys.argv[1])
