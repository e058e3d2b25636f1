"""Small functions ported from LibAUC 2.0.1 (github.com/Optimization-AI/LibAUC, MIT licence)
as an independent check of lossbench's AUC losses and PESG: the same formulas, written as
LibAUC writes them (libauc/losses/auc.py, libauc/optimizers/pesg.py), device and
distributed code removed."""

from __future__ import annotations

import torch


def aucm_v1(y_pred, y_true, a, b, alpha, margin, p):
    """``AUCMLoss(version='v1')`` with ``imratio=p`` and ``auto=False``."""
    y_pred, y_true = y_pred.reshape(-1, 1), y_true.reshape(-1, 1)
    is_pos, is_neg = (y_true == 1).float(), (y_true == 0).float()
    return (
        (1 - p) * torch.mean((y_pred - a) ** 2 * is_pos)
        + p * torch.mean((y_pred - b) ** 2 * is_neg)
        + 2
        * alpha
        * (p * (1 - p) * margin + torch.mean(p * y_pred * is_neg - (1 - p) * y_pred * is_pos))
        - p * (1 - p) * alpha**2
    )


class APLossReference:
    """``AveragePrecisionLoss(data_len, gamma, margin, surr_loss='squared_hinge')``."""

    def __init__(self, data_len, gamma=0.9, margin=1.0):
        self.u_all = torch.zeros(data_len, 1, dtype=torch.float64)
        self.u_pos = torch.zeros(data_len, 1, dtype=torch.float64)
        self.gamma, self.margin = gamma, margin

    def __call__(self, y_pred, y_true, index):
        y_pred, y_true = y_pred.reshape(-1, 1), y_true.reshape(-1, 1)
        pos_mask = (y_true == 1).squeeze()
        index = index[pos_mask]
        f_ps = y_pred[pos_mask]
        f_all = y_pred.squeeze()
        diff = f_ps - f_all
        surr_loss = torch.max(self.margin - diff, torch.zeros_like(diff)) ** 2
        pos_surr_loss = surr_loss * pos_mask
        g = self.gamma
        new_all = surr_loss.mean(1, keepdim=True).detach()
        new_pos = pos_surr_loss.mean(1, keepdim=True).detach()
        self.u_all[index] = (1 - g) * self.u_all[index] + g * new_all
        self.u_pos[index] = (1 - g) * self.u_pos[index] + g * new_pos
        p = (self.u_pos[index] - self.u_all[index] * pos_mask) / (self.u_all[index] ** 2)
        p = p.detach()
        return torch.mean(p * surr_loss)


class PESGReference:
    """LibAUC ``PESG(mode='sgd')`` on a list of tensors, ``model_ref`` given (LibAUC draws it
    from N(0, 0.01)); ``step(grads)`` is one update; ``update_regularizer(decay_factor)``."""

    def __init__(self, params, ref, lr, momentum, weight_decay, epoch_decay, clip_value):
        self.params, self.ref = [p.clone() for p in params], [r.clone() for r in ref]
        self.acc = [torch.zeros_like(p) for p in params]
        self.buf = [None] * len(params)
        self.lr, self.momentum, self.wd = lr, momentum, weight_decay
        self.epoch_decay, self.clip, self.T = epoch_decay, clip_value, 0

    def step(self, grads):
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            d_p = (
                torch.clamp(g, -self.clip, self.clip)
                + self.epoch_decay * (p - self.ref[i])
                + self.wd * p
            )
            if self.momentum != 0:
                if self.buf[i] is None:
                    self.buf[i] = d_p.clone()
                else:
                    self.buf[i] = self.buf[i] * (1 - self.momentum) + d_p * self.momentum
                d_p = self.buf[i]
            self.params[i] = p - self.lr * d_p
            self.acc[i] = self.acc[i] + self.params[i]
        self.T += 1

    def update_regularizer(self, decay_factor):
        self.lr = self.lr / decay_factor
        self.ref = [a / self.T for a in self.acc]
        self.acc = [torch.zeros_like(a) for a in self.acc]
        self.T = 0
