"""The book's IMDB model (10000-16-16-1, rmsprop, binary_crossentropy, batch 512) trained by
toolkit.nn on a kernel backend (numba by default) and by PyTorch on the CPU, in the same run, from
the same initial weights on the same batches.

Prints the median epoch time of each and their ratio, the peak memory of fit relative to the
training array, and where the backend's time goes (the three matrix products of a Dense layer's
forward and backward pass on the first layer's shapes, against PyTorch's).

    .venv/bin/python benchmarks/imdb_training.py                      # real IMDB if available
    .venv/bin/python benchmarks/imdb_training.py --data synthetic --epochs 3

PyTorch is for this comparison only: ``.venv/bin/pip install torch==2.13.0`` (a CPU build).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

from toolkit.kernels import get_backend
from toolkit.nn import Callback, Dense, Sequential

FEATURES = 10000
#: The course's copy of the reviews, beside the repository.
IMDB_TARBALL = Path(__file__).resolve().parents[2] / "shared/datasets/aclImdb_labeled.tar.gz"


def imdb_multi_hot(rows: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first ``rows`` training reviews of the full IMDB set as multi-hot float32 rows."""
    from toolkit.data.preprocessing import vectorize_sequences
    from toolkit.datasets import imdb

    (x, y), _ = imdb.load_data(path=path, num_words=FEATURES)
    if rows > len(x):
        print(f"note: the IMDB training split has {len(x)} reviews; using all of them")
    return vectorize_sequences(x[:rows], FEATURES, dtype=np.float32), y[:rows].astype(np.float32)


def synthetic_multi_hot(rows: int, words: int = 120,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot rows of ``words`` distinct words each, drawn with Zipf-like frequencies as real
    text has (the first ``words`` distinct words of a row's draws with replacement, which is
    weighted sampling without replacement); labels from a hidden linear rule, so that the problem
    is learnable."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, FEATURES + 1)
    draws = np.searchsorted(np.cumsum(p / p.sum()), rng.random((rows, 5 * words)))
    draws = np.minimum(draws, FEATURES - 1)  # a draw past the rounded last cumulative sum
    x = np.zeros((rows, FEATURES), np.float32)
    for i, row in enumerate(draws.tolist()):
        x[i, list(dict.fromkeys(row))[:words]] = 1.0
    y = (x @ rng.normal(size=FEATURES).astype(np.float32) > 0).astype(np.float32)
    return x, y


class EpochTimer(Callback):
    """Wall time of each epoch."""

    def on_train_begin(self, logs=None):
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


class PeakMemory:
    """The peak resident memory of this process within the block, over what was resident when it
    began (``extra``, bytes). Linux's high-water mark is reset on entry (/proc/self/clear_refs),
    so every allocation counts: NumPy's, Numba's and PyTorch's."""

    def __enter__(self):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        self.base = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc):
        self.extra = (_status_kib("VmHWM") - self.base) * 1024


def build(backend: str, seed: int) -> Sequential:
    model = Sequential([Dense(16, activation="relu", input_shape=(FEATURES,)),
                        Dense(16, activation="relu"), Dense(1, activation="sigmoid")],
                       backend=backend, seed=seed)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


class TorchModel:
    """The same model in PyTorch, from the same initial weights, trained epoch by epoch on the same
    batches (gathered the same way: sorted indices of the shuffled permutation)."""

    def __init__(self, weights: list[np.ndarray]) -> None:
        import torch

        self.torch = torch
        self.net = torch.nn.Sequential(torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, 1), torch.nn.Sigmoid())
        with torch.no_grad():
            for layer, kernel, bias in zip(self.net[::2], weights[::2], weights[1::2]):
                layer.weight.copy_(torch.from_numpy(kernel.T))
                layer.bias.copy_(torch.from_numpy(bias))
        # torch divides by sqrt(v) + eps where Keras takes sqrt(v + eps): losses drift apart a bit
        self.opt = torch.optim.RMSprop(self.net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        self.loss_fn = torch.nn.BCELoss()

    def epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray, batch_size: int) -> float:
        """One epoch over ``order``, with per-batch loss and accuracy read back as fit does;
        returns the mean loss."""
        torch = self.torch
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.reshape(-1, 1))
        total, correct = 0.0, 0.0
        for s in range(0, len(order), batch_size):
            idx = torch.from_numpy(np.sort(order[s:s + batch_size]))
            xb, yb = xt.index_select(0, idx), yt.index_select(0, idx)
            out = self.net(xb)
            loss = self.loss_fn(out, yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += loss.item() * len(idx)
            correct += ((out > 0.5).float() == yb).float().sum().item()
        return total / len(order)


def time_call(fn, repeat: int = 7) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def profile_dots(backend: str, batch_size: int) -> None:
    """Times of the first Dense layer's products on ``backend`` and in PyTorch."""
    import torch

    b = get_backend(backend)
    rng = np.random.default_rng(0)
    x = (rng.random((batch_size, FEATURES)) < 0.012).astype(np.float32)
    w = rng.normal(size=(FEATURES, 16)).astype(np.float32)
    g = rng.normal(size=(batch_size, 16)).astype(np.float32)
    xb, wb, gb = b.asarray(x), b.asarray(w), b.asarray(g)
    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)
    sync = getattr(b, "synchronize", lambda: None)
    cases = [
        (f"forward   ({batch_size}x{FEATURES})@({FEATURES}x16)",
         lambda: (b.dot(xb, wb), sync()), lambda: xt @ wt),
        (f"dW trans_a ({batch_size}x{FEATURES}).T@({batch_size}x16)",
         lambda: (b.dot(xb, gb, trans_a=True), sync()), lambda: xt.T @ gt),
        (f"dX trans_b ({batch_size}x16)@({FEATURES}x16).T (skipped in training)",
         lambda: (b.dot(gb, wb, trans_b=True), sync()), lambda: gt @ wt.T),
    ]
    print(f"\nfirst-layer products, median of 7 ({backend} vs torch):")
    for label, ours, theirs in cases:
        t_ours, t_torch = time_call(ours), time_call(theirs)
        print(f"  {label:58s} {t_ours * 1e3:8.2f} ms  torch {t_torch * 1e3:8.2f} ms  "
              f"ratio {t_ours / t_torch:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("auto", "imdb", "synthetic"), default="auto",
                        help="real IMDB reviews or synthetic rows; auto takes IMDB when "
                             "--imdb-path and toolkit.datasets.imdb exist")
    parser.add_argument("--imdb-path", type=Path, default=IMDB_TARBALL,
                        help="an aclImdb tarball or folder (default: the course's copy)")
    parser.add_argument("--rows", type=int, default=25000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = parser.parse_args()
    if not args.no_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise SystemExit("PyTorch is not installed: .venv/bin/pip install torch==2.13.0 "
                             "(a CPU build), or pass --no-torch") from None

    data = args.data
    if data == "auto":
        try:
            import toolkit.datasets.imdb  # noqa: F401
            data = "imdb" if args.imdb_path.exists() else "synthetic"
        except ImportError:
            data = "synthetic"
    start = time.perf_counter()
    if data == "imdb":
        x, y = imdb_multi_hot(args.rows, args.imdb_path)
    else:
        x, y = synthetic_multi_hot(args.rows)
    print(f"data: {data}, x {x.shape} {x.dtype} ({x.nbytes / 2**20:.0f} MiB), "
          f"{(x != 0).sum(axis=1).mean():.0f} distinct words per row on average "
          f"({time.perf_counter() - start:.1f}s to prepare)")

    import numba
    threads = numba.get_num_threads()
    # warm-up: compile the backend's kernels on a couple of batches
    build(args.backend, args.seed).fit(x[:2 * args.batch_size], y[:2 * args.batch_size],
                                       epochs=1, batch_size=args.batch_size, verbose=0)

    model = build(args.backend, args.seed)
    weights = model.get_weights()
    shuffle_rng = copy.deepcopy(model._shuffle_rng)  # fit draws one permutation per epoch from it
    torch_model = None
    if not args.no_torch:
        import torch
        torch.set_num_threads(threads)
        torch_model = TorchModel(weights)
        TorchModel(weights).epoch(x, y, np.arange(2 * args.batch_size), args.batch_size)  # warm-up
    # Epochs alternate between the two, so that both see the same load on a shared machine.
    ours, theirs, torch_loss, extra = [], [], float("nan"), 0
    print(f"{args.epochs} epochs of {args.backend}"
          + ("" if args.no_torch else
             f", each followed by one of torch ({threads} threads, as numba)"))
    for epoch in range(args.epochs):
        order = shuffle_rng.permutation(len(x))
        timer = EpochTimer()
        with PeakMemory() as memory:
            history = model.fit(x, y, epochs=1, batch_size=args.batch_size, callbacks=[timer],
                                verbose=0)
        extra = max(extra, memory.extra)
        ours.append(timer.times[0])
        line = (f"  epoch {epoch + 1}/{args.epochs}: {args.backend} {ours[-1]:.2f}s "
                f"(loss {history.history['loss'][0]:.4f}")
        if torch_model is not None:
            start = time.perf_counter()
            torch_loss = torch_model.epoch(x, y, order, args.batch_size)
            theirs.append(time.perf_counter() - start)
            line += f")  torch {theirs[-1]:.2f}s (loss {torch_loss:.4f}"
        print(line + ")", flush=True)

    print(f"\n{args.backend}: median epoch {statistics.median(ours):.3f} s "
          f"over {args.epochs} epochs")
    if theirs:
        print(f"torch {torch.__version__}: median epoch {statistics.median(theirs):.3f} s")
        ratio = statistics.median(ours) / statistics.median(theirs)
        paired = statistics.median(a / b for a, b in zip(ours, theirs))
        print(f"ratio {args.backend} / torch: {ratio:.2f} of the medians "
              f"({'faster' if ratio < 1 else 'slower'} than PyTorch); median of the per-epoch "
              f"ratios (each epoch against the torch epoch right after it) {paired:.2f}")
    tracemalloc.start()  # one more, untimed epoch: the peak of what fit allocates through NumPy
    model.fit(x, y, epochs=1, batch_size=args.batch_size, verbose=0)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    mib = 2**20
    print(f"peak memory of fit over the {x.nbytes / mib:.0f} MiB training array: allocations "
          f"(tracemalloc) {traced / mib:.1f} MiB -> {(x.nbytes + traced) / x.nbytes:.3f}x; "
          f"resident set {extra / mib:.1f} MiB above its start -> "
          f"{(x.nbytes + extra) / x.nbytes:.3f}x")
    if theirs:
        profile_dots(args.backend, args.batch_size)


if __name__ == "__main__":
    main()
