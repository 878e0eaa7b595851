"""Sequential: a stack of layers trained with compile / fit / evaluate / predict, as in Keras.

Every tensor operation goes through one kernel backend (``numpy``, ``numba`` or ``cuda``): the
weights and optimizer state live as that backend's arrays, data moves to it one batch at a time,
and only the loss, the predictions and the metrics come back to the host. fit never copies the
whole dataset: it shuffles an index permutation and gathers one batch at a time, and
validation_split takes views.

x may also be a scipy.sparse matrix (multi-hot text: ``vectorize_sequences(..., sparse=True)``)
on a backend that ``accepts_sparse``. It stays sparse: each batch is a CSR matrix of its rows,
and the first Dense layer multiplies it in time proportional to its nonzeros, so memory and time
follow the nonzeros rather than the dense size.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from toolkit.files import atomic_file
from toolkit.kernels import get_backend
from toolkit.kernels.sparse import as_csr, is_sparse

from . import losses, optimizers
from . import metrics as metrics_module
from .callbacks import Callback, History
from .layers import Dense, Layer


class Sequential:
    """A linear stack of layers, ``Sequential([Dense(16, activation='relu', input_shape=(10000,)),
    ...], backend='numba', seed=0)``; ``seed`` fixes initial weights, shuffling and dropout."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None,
                 backend: str | ModuleType = "numpy", seed: int | None = None) -> None:
        self.name = name or "sequential"
        self.backend = get_backend(backend)
        init_seq, shuffle_seq = np.random.SeedSequence(seed).spawn(2)
        self._init_rng = np.random.default_rng(init_seq)
        self._shuffle_rng = np.random.default_rng(shuffle_seq)
        self.layers: list[Layer] = []
        self.loss: losses.Loss | None = None
        self.optimizer: optimizers.Optimizer | None = None
        self.metrics: list[str] = []
        self.stop_training = False
        self.history: History | None = None
        for layer in layers or []:
            self.add(layer)

    # -- building -----------------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Append ``layer``, naming it as Keras does ('dense', 'dense_1', ...)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add takes a layer such as Dense(16), got {layer!r}")
        if layer.built:
            raise ValueError(f"layer {layer.name!r} already belongs to a model; create a new one")
        if self.layers and layer.input_shape is not None:
            raise ValueError(f"only the first layer takes input_shape/input_dim; remove it from "
                             f"{type(layer).__name__}")
        names = {existing.name for existing in self.layers}
        if layer.name is None:
            base, k = layer.default_name(), 0
            layer.name = base
            while layer.name in names:
                k += 1
                layer.name = f"{base}_{k}"
        elif layer.name in names:
            raise ValueError(f"layer name {layer.name!r} is already used in this model; "
                             f"layer names must be unique")
        self.layers.append(layer)
        if len(self.layers) == 1 and layer.input_shape is not None:
            layer.build(self.backend, layer.input_shape[0], self._init_rng)
        elif len(self.layers) > 1 and self.layers[-2].built:
            layer.build(self.backend, self.layers[-2].units, self._init_rng)

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the weights for inputs of ``input_shape``: (None, features) or (features,)."""
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(Dense(...))")
        features = input_shape[-1]
        if not self.layers[0].built:
            self.layers[0].build(self.backend, int(features), self._init_rng)
        for prev, layer in zip(self.layers, self.layers[1:]):
            if not layer.built:
                layer.build(self.backend, prev.units, self._init_rng)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"{what}: the model has not been built yet; give the first layer "
                f"input_shape=(features,), or call model.build((None, features)) or fit first"
            )

    @property
    def input_units(self) -> int:
        return self.layers[0].input_units

    @property
    def output_units(self) -> int:
        return self.layers[-1].units

    def count_params(self) -> int:
        """The number of weights in all layers."""
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print Keras's table: each layer's name (type), output shape and parameter count, then
        the totals."""
        self._require_built("summary")
        emit = print_fn or print
        widths = (29, 26, 10)

        def row(*fields: str) -> str:
            return "".join(f[:w - 1].ljust(w) for f, w in zip(fields, widths))

        total = self.count_params()
        lines = [f'Model: "{self.name}"', "_" * 65, row("Layer (type)", "Output Shape", "Param #"),
                 "=" * 65]
        for i, layer in enumerate(self.layers):
            lines.append(row(f"{layer.name} ({type(layer).__name__})", f"(None, {layer.units})",
                             str(layer.count_params())))
            lines.append("=" * 65 if i == len(self.layers) - 1 else "_" * 65)
        lines += [f"Total params: {total:,}", f"Trainable params: {total:,}",
                  "Non-trainable params: 0", "_" * 65]
        for line in lines:
            emit(line)

    # -- weights ------------------------------------------------------------------------------

    def _params(self) -> list[Any]:
        return [p for layer in self.layers for p in layer.params]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights as NumPy arrays, layer by layer (kernel, then bias)."""
        self._require_built("get_weights")
        return [np.array(self.backend.to_numpy(p)) for p in self._params()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Replace all weights, given in the order of get_weights."""
        self._require_built("set_weights")
        slots = [(layer, i) for layer in self.layers for i in range(len(layer.params))]
        if len(weights) != len(slots):
            raise ValueError(f"set_weights: the model has {len(slots)} weight arrays, "
                             f"got {len(weights)}")
        for (layer, i), w in zip(slots, weights):
            w = np.asarray(w)
            if w.shape != tuple(layer.params[i].shape):
                raise ValueError(
                    f"set_weights: {layer.name}/{layer.param_names[i]} has shape "
                    f"{tuple(layer.params[i].shape)}, got an array of shape {w.shape}"
                )
            layer.params[i] = self.backend.asarray(w.astype(np.float32))

    def _weight_names(self) -> list[str]:
        return [f"{layer.name}/{name}" for layer in self.layers for name in layer.param_names]

    def save_weights(self, filepath: str | os.PathLike) -> None:
        """Write all weights to an .npz file (written whole, or not at all), keyed
        'layer/param' in layer order."""
        self._require_built("save_weights")
        filepath = os.fspath(filepath)
        arrays = dict(zip(self._weight_names(), self.get_weights()))
        with atomic_file(filepath, "wb") as f:
            np.savez(f, **arrays)

    def load_weights(self, filepath: str | os.PathLike) -> None:
        """Read weights written by save_weights, matched in layer order; shapes must agree."""
        self._require_built("load_weights")
        with np.load(os.fspath(filepath), allow_pickle=False) as data:
            names = list(data.files)
            expected = self._weight_names()
            if len(names) != len(expected):
                raise ValueError(
                    f"load_weights: {filepath} holds {len(names)} arrays ({', '.join(names)}) "
                    f"but the model has {len(expected)} ({', '.join(expected)}); build the same "
                    f"architecture that saved them"
                )
            self.set_weights([data[n] for n in names])

    # -- training -----------------------------------------------------------------------------

    def compile(self, optimizer: str | optimizers.Optimizer = "rmsprop",
                loss: str | losses.Loss | None = None,
                metrics: Sequence[str] | None = None) -> None:
        """Choose the optimizer ('rmsprop' by default, as Keras), the loss and the metrics."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='binary_crossentropy' "
                             f"(one of {', '.join(sorted(losses.LOSSES))})")
        if isinstance(metrics, str):
            raise TypeError(f"metrics must be a list, e.g. metrics=[{metrics!r}]")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self.metrics = [metrics_module.check(m) for m in (metrics or [])]

    def _require_compiled(self, what: str) -> None:
        if self.loss is None:
            raise RuntimeError(f"{what}: the model must be compiled first; call "
                               f"model.compile(optimizer='rmsprop', loss='binary_crossentropy')")

    def _check_data(self, what: str, x: Any, y: Any = None) -> tuple[Any, np.ndarray | None]:
        """``x`` as a 2-D array (or CSR matrix) of the model's input width (building the model if
        needed), and ``y`` prepared by the loss as (samples, units) float32."""
        x = self._check_sparse(what, x) if is_sparse(x) else np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{what}: x must hold numbers, got dtype {x.dtype}")
        if x.ndim != 2:
            raise ValueError(f"{what}: x must be 2-D (samples, features), got shape {x.shape}; "
                             f"flatten each sample first, e.g. x.reshape(len(x), -1)")
        if x.shape[0] == 0:
            raise ValueError(f"{what}: x has no samples")
        if not self.built:
            self.build(x.shape)
        if x.shape[1] != self.input_units:
            raise ValueError(
                f"{what}: the model expects inputs of shape (None, {self.input_units}) but x has "
                f"shape {x.shape}; give {self.input_units} features per sample (or build the "
                f"model with input_shape=({x.shape[1]},))"
            )
        if y is None:
            return x, None
        y = np.asarray(y)
        if len(y) != x.shape[0]:
            raise ValueError(f"{what}: x has {x.shape[0]} samples but y has {len(y)}; give one "
                             f"label per sample")
        return x, self.loss.targets(y, self.output_units)

    def _check_sparse(self, what: str, x: Any) -> Any:
        """A sparse ``x`` as a float32 CSR matrix, or an error saying why it cannot be used."""
        if not getattr(self.backend, "accepts_sparse", False):
            raise TypeError(f"{what}: the {self.backend.name} backend takes dense arrays; train "
                            f"on sparse x with backend='numpy' or 'numba', or pass x.toarray()")
        if self.layers and not isinstance(self.layers[0], Dense):
            raise ValueError(f"{what}: sparse x needs a Dense first layer (it multiplies the "
                             f"sparse rows); the first layer is {type(self.layers[0]).__name__}")
        x = as_csr(what, x)
        return x if x.dtype == np.float32 else x.astype(np.float32)

    def _batches(self, n: int, batch_size: int, order: np.ndarray | None) -> Iterator[Any]:
        """Index slices (in order) or sorted index arrays (a shuffled epoch), one per batch."""
        for start in range(0, n, batch_size):
            if order is None:
                yield slice(start, min(start + batch_size, n))
            else:
                yield np.sort(order[start:start + batch_size])

    def _to_backend(self, x: Any, index: Any) -> Any:
        """One batch of ``x`` (a view for a slice, a gathered copy otherwise) on the backend; a
        CSR matrix of its rows when x is sparse."""
        if is_sparse(x):
            return x[index]
        take = getattr(self.backend, "take_rows", None)  # backend.HOST: a parallel gather
        if take is not None and isinstance(index, np.ndarray) and isinstance(x, np.ndarray):
            return take(x, index)
        return self.backend.asarray(np.asarray(x[index], dtype=np.float32))

    def _forward(self, x: Any, training: bool) -> Any:
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def _penalty(self) -> float:
        terms = [p for layer in self.layers for p in layer.penalty()]
        return float(sum(float(self.backend.to_numpy(t)) for t in terms))

    def _train_step(self, xb: Any, yb: Any) -> tuple[float, Any]:
        """Forward, backward and one optimizer update on a batch; the loss (penalties included)
        and the batch's predictions on the backend."""
        b = self.backend
        out = self._forward(xb, training=True)
        loss = float(b.to_numpy(self.loss.value(b, yb, out))) + self._penalty()
        grad = self.loss.gradient(b, yb, out)
        # Layers before the first one with weights need no gradient: nor does that one's input.
        first = next((i for i, layer in enumerate(self.layers) if layer.params),
                     len(self.layers) - 1)
        for i in range(len(self.layers) - 1, first - 1, -1):
            grad = self.layers[i].backward(grad, need_input_grad=i > first)
        params = self._params()
        grads = [g for layer in self.layers for g in layer.grads]
        new = self.optimizer.apply(b, params, grads)
        k = 0
        for layer in self.layers:
            for i in range(len(layer.params)):
                layer.params[i], k = new[k], k + 1
        return loss, out

    def fit(self, x: Any, y: Any, batch_size: int | None = None, epochs: int = 1,
            verbose: int = 1, callbacks: Sequence[Callback] | None = None,
            validation_split: float = 0.0, validation_data: tuple[Any, Any] | None = None,
            shuffle: bool = True, nb_epoch: int | None = None) -> History:
        """Train for ``epochs`` passes over (x, y) in batches of ``batch_size`` (32 by default),
        and return a History whose ``history`` holds per-epoch 'loss', each metric and, with
        validation, their 'val_' forms. ``validation_split`` holds out the last fraction of the
        samples (before shuffling); ``validation_data`` wins when both are given. ``verbose``
        prints one line per epoch. ``nb_epoch`` is Keras 1's name for ``epochs``."""
        self._require_compiled("fit")
        if nb_epoch is not None:
            warnings.warn("fit: nb_epoch is Keras 1's name; use epochs", FutureWarning,
                          stacklevel=2)
            epochs = nb_epoch
        batch_size = 32 if batch_size is None else batch_size
        for label, value in (("batch_size", batch_size), ("epochs", epochs)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"fit: {label} must be a positive integer, got {value!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
        x, y_all = self._check_data("fit", x, y)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
            val = self._check_data("fit (validation_data)", *validation_data)
        elif validation_split:
            split_at = int(math.floor(x.shape[0] * (1.0 - validation_split)))
            if split_at in (0, x.shape[0]):
                raise ValueError(f"fit: validation_split={validation_split} of {x.shape[0]} "
                                 f"samples leaves an empty training or validation set")
            val = (x[split_at:], y_all[split_at:])
            x, y_all = x[:split_at], y_all[:split_at]

        history = self.history = History()
        callbacks = [history, *(callbacks or [])]
        for cb in callbacks:
            cb.set_model(self)
            cb.on_train_begin()
        self.stop_training = False
        b, n = self.backend, x.shape[0]
        steps = math.ceil(n / batch_size)
        metric_fns = self._metric_fns()
        for epoch in range(epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            start = time.perf_counter()
            order = self._shuffle_rng.permutation(n) if shuffle else None
            totals = np.zeros(1 + len(metric_fns))
            for index in self._batches(n, batch_size, order):
                yb_host = y_all[index]
                loss, out = self._train_step(self._to_backend(x, index), b.asarray(yb_host))
                totals[0] += loss * len(yb_host)
                if metric_fns:
                    pred = b.to_numpy(out)
                    totals[1:] += [fn(yb_host, pred) * len(yb_host) for fn in metric_fns]
            logs = dict(zip(["loss", *self.metrics], (totals / n).tolist()))
            if val is not None:
                values = self._evaluate(val[0], val[1], batch_size)
                logs.update({f"val_{k}": v for k, v in zip(["loss", *self.metrics], values)})
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs} - {steps}/{steps} - "
                      f"{time.perf_counter() - start:.1f}s - "
                      + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), flush=True)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        return history

    def _metric_fns(self) -> list[metrics_module.Metric]:
        return [metrics_module.get(m, self.loss, self.output_units) for m in self.metrics]

    def _evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> list[float]:
        """Loss (penalties included) and metrics over prepared data, in inference mode."""
        b = self.backend
        metric_fns = self._metric_fns()
        totals = np.zeros(1 + len(metric_fns))
        for index in self._batches(x.shape[0], batch_size, None):
            yb = y[index]
            out = self._forward(self._to_backend(x, index), training=False)
            totals[0] += float(b.to_numpy(self.loss.value(b, b.asarray(yb), out))) * len(yb)
            if metric_fns:
                pred = b.to_numpy(out)
                totals[1:] += [fn(yb, pred) * len(yb) for fn in metric_fns]
        values = (totals / x.shape[0]).tolist()
        values[0] += self._penalty()
        return values

    def evaluate(self, x: Any, y: Any, batch_size: int | None = None,
                 verbose: int = 1) -> float | list[float]:
        """The loss on (x, y), or [loss, metric, ...] when metrics were compiled."""
        self._require_compiled("evaluate")
        x, y = self._check_data("evaluate", x, y)
        start = time.perf_counter()
        values = self._evaluate(x, y, batch_size or 32)
        if verbose:
            steps = math.ceil(x.shape[0] / (batch_size or 32))
            print(f"{steps}/{steps} - {time.perf_counter() - start:.1f}s - "
                  + " - ".join(f"{k}: {v:.4f}" for k, v in zip(["loss", *self.metrics], values)))
        return values if self.metrics else values[0]

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """The model's outputs for ``x``, shape (samples, units), computed batch by batch."""
        x, _ = self._check_data("predict", x)
        out = np.empty((x.shape[0], self.output_units), np.float32)
        start = time.perf_counter()
        for index in self._batches(x.shape[0], batch_size or 32, None):
            out[index] = self.backend.to_numpy(self._forward(self._to_backend(x, index), False))
        if verbose:
            steps = math.ceil(x.shape[0] / (batch_size or 32))
            print(f"{steps}/{steps} - {time.perf_counter() - start:.1f}s")
        return out
