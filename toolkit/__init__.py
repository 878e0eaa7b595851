"""A deep-learning course in a box: tensor kernels on four backends and a Keras-like network
library."""

__version__ = "0.1.0"
