"""Loss functions; each is usable on its own and selectable as ``loss=NAME``."""

from lossbench.losses.asymmetric import AsymmetricLoss
from lossbench.losses.base import Loss
from lossbench.losses.ce import CrossEntropyLoss
from lossbench.losses.mse import MSELoss

__all__ = ["AsymmetricLoss", "CrossEntropyLoss", "Loss", "MSELoss"]
