"""From raw data to tensors, and the protocols that evaluate a model honestly.

>>> from toolkit.data import vectorize_sequences, StandardScaler, KFold, hold_out_split
"""

from .preprocessing import (
    MeanNormalization,
    MeanNormalizer,
    MinMaxScaler,
    Rescaling,
    Standardization,
    StandardScaler,
    to_categorical,
    vectorize_sequences,
)
from .protocols import (
    IteratedKFold,
    KFold,
    LeakReport,
    hold_out_split,
    redundancy_leak,
    temporal_split,
)

__all__ = [
    "vectorize_sequences", "to_categorical",
    "StandardScaler", "MinMaxScaler", "MeanNormalizer", "Standardization", "Rescaling",
    "MeanNormalization",
    "hold_out_split", "KFold", "IteratedKFold", "temporal_split", "redundancy_leak", "LeakReport",
]
