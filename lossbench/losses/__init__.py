"""Loss functions; each is usable on its own and selectable as ``loss=NAME``."""

from lossbench.losses.asymmetric import AsymmetricLoss
from lossbench.losses.auc import (
    AUCMarginLoss,
    AUCPairwiseLoss,
    AUCSquareLoss,
    AveragePrecisionLoss,
)
from lossbench.losses.balanced_mse import BalancedMSELoss
from lossbench.losses.base import Loss
from lossbench.losses.ce import CrossEntropyLoss, LabelSmoothingLoss
from lossbench.losses.class_balanced import ClassBalancedLoss
from lossbench.losses.combined import CombinedLoss
from lossbench.losses.dilate import DilateLoss
from lossbench.losses.focal import FocalLoss
from lossbench.losses.function import FunctionLoss
from lossbench.losses.ldam import LDAMLoss
from lossbench.losses.logit_adjusted import BalancedSoftmaxLoss, LogitAdjustedLoss
from lossbench.losses.mse import MSELoss
from lossbench.losses.regression import HuberLoss, LinexLoss, MAELoss, QuantileLoss
from lossbench.losses.soft_dtw import SoftDTWLoss
from lossbench.losses.temporal import TemporalLoss
from lossbench.losses.weighted_mse import WeightedMSELoss

__all__ = [
    "AUCMarginLoss",
    "AUCPairwiseLoss",
    "AUCSquareLoss",
    "AveragePrecisionLoss",
    "DilateLoss",
    "SoftDTWLoss",
    "AsymmetricLoss",
    "BalancedMSELoss",
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "CombinedLoss",
    "CrossEntropyLoss",
    "FocalLoss",
    "FunctionLoss",
    "HuberLoss",
    "LDAMLoss",
    "LabelSmoothingLoss",
    "LinexLoss",
    "LogitAdjustedLoss",
    "Loss",
    "MAELoss",
    "MSELoss",
    "QuantileLoss",
    "TemporalLoss",
    "WeightedMSELoss",
]
