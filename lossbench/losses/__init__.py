"""Loss functions; each is usable on its own and selectable as ``loss=NAME``."""

from lossbench.losses.asymmetric import AsymmetricLoss
from lossbench.losses.base import Loss
from lossbench.losses.ce import CrossEntropyLoss
from lossbench.losses.dilate import DilateLoss
from lossbench.losses.mse import MSELoss
from lossbench.losses.soft_dtw import SoftDTWLoss

__all__ = ["AsymmetricLoss", "CrossEntropyLoss", "DilateLoss", "Loss", "MSELoss", "SoftDTWLoss"]
