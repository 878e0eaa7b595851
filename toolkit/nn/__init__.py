"""The book's Keras-like network library on the kernel backends.

>>> from toolkit.nn import Sequential, Dense
>>> model = Sequential([Dense(16, activation="relu", input_shape=(10000,)),
...                     Dense(16, activation="relu"), Dense(1, activation="sigmoid")],
...                    backend="numba")
>>> model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
>>> history = model.fit(x_train, y_train, epochs=4, batch_size=512)

The submodules carry Keras's names too: ``from toolkit.nn import models, layers, regularizers``
then ``models.Sequential()``, ``layers.Dense(...)``, ``regularizers.l2(0.001)``.
"""

from . import (
    activations,
    callbacks,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
)
from .callbacks import Callback, EarlyStopping, History
from .layers import Activation, Dense, Dropout, Layer
from .models import Sequential
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, Nadam, Optimizer, RMSprop

__all__ = [
    "activations", "callbacks", "initializers", "layers", "losses", "metrics", "models",
    "optimizers", "regularizers",
    "Activation", "Dense", "Dropout", "Layer", "Sequential",
    "Callback", "EarlyStopping", "History",
    "SGD", "Adadelta", "Adagrad", "Adam", "Adamax", "Nadam", "Optimizer", "RMSprop",
]
