"""The book's IMDB model (10000-16-16-1, rmsprop, binary_crossentropy, batch 512) trained four ways
in one run, from the same initial weights on the same batches: toolkit.nn on a kernel backend
(numba by default) given the dense multi-hot array and given the same data as a scipy.sparse CSR
matrix, and PyTorch on the CPU given the dense tensor and given sparse CSR tensors.

Epochs alternate between the four (the order rotating each epoch), so that all see the same load
on a shared machine; the table gives each one's median epoch, its ratio to both PyTorch runs, its
accuracy on the test reviews after training, and the peak resident memory an epoch added. Then
the memory of a sparse fit against the CSR data and the dense array, and the first Dense layer's
three matrix products on the dense path against PyTorch's.

    .venv/bin/python benchmarks/imdb_training.py                      # real IMDB, 7 epochs
    .venv/bin/python benchmarks/imdb_training.py --data synthetic --epochs 3

PyTorch is for this comparison only: ``.venv/bin/pip install torch==2.13.0`` (a CPU build).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse

from toolkit.bench import machine
from toolkit.kernels import get_backend
from toolkit.nn import Callback, Dense, Sequential

FEATURES = 10000
#: The course's copy of the reviews, beside the repository.
IMDB_TARBALL = Path(__file__).resolve().parents[2] / "shared/datasets/aclImdb_labeled.tar.gz"
MIB = 2**20


def imdb_sequences(path: Path) -> tuple[list, np.ndarray, list, np.ndarray]:
    """The training and test reviews of the full IMDB set as word-index sequences."""
    from toolkit.datasets import imdb

    (x, y), (x_test, y_test) = imdb.load_data(path=path, num_words=FEATURES)
    return x, y.astype(np.float32), x_test, y_test.astype(np.float32)


def synthetic_sequences(rows: int, words: int = 120, seed: int = 0):
    """Reviews of ``words`` distinct words drawn with Zipf-like frequencies, as real text has,
    labelled by a hidden linear rule so that the problem is learnable; half train, half test."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, FEATURES + 1)
    cumulative = np.cumsum(p / p.sum())
    weights = rng.normal(size=FEATURES)
    seqs = []
    for _ in range(2 * rows):
        draws = np.minimum(np.searchsorted(cumulative, rng.random(5 * words)), FEATURES - 1)
        seqs.append(list(dict.fromkeys(draws.tolist()))[:words])
    y = np.array([weights[s].sum() > 0 for s in seqs], np.float32)
    return seqs[:rows], y[:rows], seqs[rows:], y[rows:]


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


class ToolkitRun:
    """toolkit.nn's fit, one epoch at a time; the model draws the same permutations as the
    order list given to PyTorch (the same seed)."""

    def __init__(self, label: str, backend: str, seed: int, x, y) -> None:
        self.label, self.x, self.y = label, x, y
        self.model = build(backend, seed)

    def epoch(self, order: np.ndarray, batch_size: int) -> float:
        timer = EpochTimer()
        history = self.model.fit(self.x, self.y, epochs=1, batch_size=batch_size,
                                 callbacks=[timer], verbose=0)
        self.seconds = timer.times[0]
        return history.history["loss"][0]

    def predict(self, batch: scipy.sparse.csr_matrix) -> np.ndarray:
        x = batch if scipy.sparse.issparse(self.x) else batch.toarray()
        return self.model.predict(x, batch_size=batch.shape[0]).ravel()


class TorchRun:
    """The same model in PyTorch, from the same initial weights, trained epoch by epoch on the
    same batches (gathered the same way: sorted indices of the shuffled permutation). Sparse
    batches are CSR tensors over the rows scipy gathers (nn.Linear takes them, and it is
    PyTorch's fastest sparse form here: COO through torch.sparse.mm is slower)."""

    def __init__(self, label: str, weights: list[np.ndarray], x, y) -> None:
        import torch

        self.torch, self.label, self.x, self.y = torch, label, x, y
        self.sparse = scipy.sparse.issparse(x)
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
        self.dense = None if self.sparse else torch.from_numpy(x)

    def csr_tensor(self, part: scipy.sparse.csr_matrix):
        torch = self.torch
        return torch.sparse_csr_tensor(torch.from_numpy(part.indptr.astype(np.int64)),
                                       torch.from_numpy(part.indices.astype(np.int64)),
                                       torch.from_numpy(part.data), size=part.shape)

    def batch(self, rows):
        """The rows as a dense tensor (index_select) or a sparse CSR tensor."""
        if not self.sparse:
            return self.dense.index_select(0, self.torch.from_numpy(rows))
        return self.csr_tensor(self.x[rows])

    def epoch(self, order: np.ndarray, batch_size: int) -> float:
        """One epoch over ``order``, with per-batch loss and accuracy read back as fit does;
        returns the mean loss."""
        torch = self.torch
        start = time.perf_counter()
        y = torch.from_numpy(self.y.reshape(-1, 1))
        total, correct = 0.0, 0.0
        for s in range(0, len(order), batch_size):
            rows = np.sort(order[s:s + batch_size])
            xb, yb = self.batch(rows), y.index_select(0, torch.from_numpy(rows))
            out = self.net(xb)
            loss = self.loss_fn(out, yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += loss.item() * len(rows)
            correct += ((out > 0.5).float() == yb).float().sum().item()
        self.seconds = time.perf_counter() - start
        return total / len(order)

    def predict(self, batch: scipy.sparse.csr_matrix) -> np.ndarray:
        x = self.csr_tensor(batch) if self.sparse else self.torch.from_numpy(batch.toarray())
        with self.torch.no_grad():
            return self.net(x).numpy().ravel()


def test_accuracy(run, x_test: scipy.sparse.csr_matrix, y_test: np.ndarray,
                  batch_size: int = 2048) -> float:
    """The run's accuracy on the test reviews, fed in its own form (dense runs get dense
    batches), so that the dense test matrix never exists whole."""
    correct = 0
    for s in range(0, x_test.shape[0], batch_size):
        pred = run.predict(x_test[s:s + batch_size])
        correct += int(((pred > 0.5) == (y_test[s:s + batch_size] > 0.5)).sum())
    return correct / x_test.shape[0]


def time_call(fn, repeat: int = 7) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def profile_dots(backend: str, batch_size: int, pairs: int = 9) -> None:
    """Times of the first Dense layer's products on ``backend`` and in PyTorch: ``pairs`` pairs
    of medians of 7 calls, the two sides of a pair timed back to back (which goes first
    alternating), so that each ratio compares the same few milliseconds of a shared machine;
    the median ratio, and the middle half of the ratios, are reported."""
    import torch

    b = get_backend(backend)
    rng = np.random.default_rng(0)
    x = (rng.random((batch_size, FEATURES)) < 0.013).astype(np.float32)
    w = rng.normal(size=(FEATURES, 16)).astype(np.float32)
    g = rng.normal(size=(batch_size, 16)).astype(np.float32)
    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)
    cases = [
        (f"forward    ({batch_size}x{FEATURES})@({FEATURES}x16)", lambda: b.dot(x, w),
         lambda: xt @ wt),
        (f"dW trans_a ({batch_size}x{FEATURES}).T@({batch_size}x16)",
         lambda: b.dot(x, g, trans_a=True), lambda: xt.T @ gt),
        (f"dX trans_b ({batch_size}x16)@({FEATURES}x16).T (not needed in training)",
         lambda: b.dot(g, w, trans_b=True), lambda: gt @ wt.T),
    ]
    print(f"\nfirst-layer products on the dense path, {backend} vs torch: {pairs} pairs of "
          f"medians of 7 calls, back to back, the order alternating; median time of each side, "
          f"median ratio and the middle half of the ratios:")
    for label, ours, theirs in cases:
        times = []
        for i in range(pairs):
            first, second = (ours, theirs) if i % 2 == 0 else (theirs, ours)
            a, b_ = time_call(first), time_call(second)
            times.append((a, b_) if i % 2 == 0 else (b_, a))
        ratios = sorted(t_ours / t_torch for t_ours, t_torch in times)
        t_ours = statistics.median(t[0] for t in times)
        t_torch = statistics.median(t[1] for t in times)
        q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        print(f"  {label:66s} {t_ours * 1e3:6.2f} ms  torch {t_torch * 1e3:6.2f} ms  "
              f"ratio {statistics.median(ratios):5.2f} ({q1:.2f}-{q3:.2f})")


def sparse_fit_memory(backend: str, seed: int, x, y, batch_size: int) -> tuple[int, int]:
    """(peak bytes NumPy and Numba allocate, peak resident bytes added) in one epoch of a fresh
    sparse fit, after a warm-up on a few rows."""
    model = build(backend, seed)
    model.fit(x[:batch_size], y[:batch_size], epochs=1, batch_size=batch_size, verbose=0)
    tracemalloc.start()
    with PeakMemory() as memory:
        model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return traced, memory.extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("auto", "imdb", "synthetic"), default="auto",
                        help="real IMDB reviews or synthetic ones; auto takes IMDB when "
                             "--imdb-path exists")
    parser.add_argument("--imdb-path", type=Path, default=IMDB_TARBALL,
                        help="an aclImdb tarball or folder (default: the course's copy)")
    parser.add_argument("--rows", type=int, default=25000, help="training rows (synthetic)")
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for numba and torch alike [default: numba's count]; 1 "
                             "keeps a shared machine's other work from stalling either")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("PyTorch is not installed: .venv/bin/pip install torch==2.13.0 "
                         "(a CPU build)") from None
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")

    info = machine.describe()
    print(f"machine: {info['cpu']}, {info['cores']} cores; {machine.simd_summary(info)}")
    data = args.data if args.data != "auto" else (
        "imdb" if args.imdb_path.exists() else "synthetic")
    start = time.perf_counter()
    if data == "imdb":
        train, y, test, y_test = imdb_sequences(args.imdb_path)
    else:
        train, y, test, y_test = synthetic_sequences(args.rows)
    from toolkit.data import vectorize_sequences
    x = vectorize_sequences(train, FEATURES)
    x_csr = vectorize_sequences(train, FEATURES, sparse=True)
    x_test = vectorize_sequences(test, FEATURES, sparse=True)
    csr_bytes = x_csr.data.nbytes + x_csr.indices.nbytes + x_csr.indptr.nbytes
    print(f"data: {data}, {x.shape[0]} training reviews, {x_csr.nnz / x.shape[0]:.0f} distinct "
          f"words per row on average ({100 * (1 - x_csr.nnz / x.size):.1f}% zeros); dense "
          f"{x.nbytes / MIB:.0f} MiB, CSR {csr_bytes / MIB:.1f} MiB; {x_test.shape[0]} test "
          f"reviews ({time.perf_counter() - start:.1f}s to prepare)")

    import numba
    threads = args.threads or numba.get_num_threads()
    numba.set_num_threads(threads)
    torch.set_num_threads(threads)
    warm = slice(0, 2 * args.batch_size)
    for warm_x in (x, x_csr):  # compile the backend's kernels for both paths
        build(args.backend, args.seed).fit(warm_x[warm], y[warm], epochs=1,
                                           batch_size=args.batch_size, verbose=0)
    ours = [ToolkitRun(f"{args.backend} dense", args.backend, args.seed, x, y),
            ToolkitRun(f"{args.backend} sparse", args.backend, args.seed, x_csr, y)]
    weights = ours[0].model.get_weights()
    shuffle_rng = copy.deepcopy(ours[0].model._shuffle_rng)  # fit draws one permutation an epoch
    theirs = [TorchRun("torch dense", weights, x, y), TorchRun("torch sparse", weights, x_csr, y)]
    for run in theirs:  # warm-up on copies, so that the timed models start from the weights
        TorchRun(run.label, weights, run.x, y).epoch(np.arange(2 * args.batch_size),
                                                     args.batch_size)
    runs = ours + theirs
    times = {run.label: [] for run in runs}
    losses = {run.label: float("nan") for run in runs}
    memory = {run.label: 0 for run in runs}
    print(f"\n{args.epochs} epochs of each, alternated (the order rotating), {threads} threads "
          f"for numba and torch alike:")
    for epoch in range(args.epochs):
        order = shuffle_rng.permutation(x.shape[0])
        line = []
        for run in runs[epoch % 4:] + runs[:epoch % 4]:
            with PeakMemory() as peak:
                losses[run.label] = run.epoch(order, args.batch_size)
            memory[run.label] = max(memory[run.label], peak.extra)
            times[run.label].append(run.seconds)
            line.append(f"{run.label} {run.seconds:.3f}s")
        print(f"  epoch {epoch + 1}/{args.epochs}: " + ", ".join(sorted(line)), flush=True)

    median = {label: statistics.median(t) for label, t in times.items()}
    accuracy = {run.label: test_accuracy(run, x_test, y_test) for run in runs}
    print(f"\nmedian epoch over {args.epochs} alternated epochs; test accuracy on "
          f"{x_test.shape[0]} reviews after training; peak resident memory an epoch added:")
    header = (f"  {'run':16s} {'epoch':>8s} {'/torch dense':>13s} {'/torch sparse':>14s} "
              f"{'train loss':>11s} {'test acc':>9s} {'memory':>10s}")
    print(header + "\n  " + "-" * (len(header) - 2))
    for run in runs:
        label = run.label
        print(f"  {label:16s} {median[label]:7.3f}s "
              f"{median[label] / median['torch dense']:12.2f}x "
              f"{median[label] / median['torch sparse']:13.2f}x {losses[label]:11.4f} "
              f"{accuracy[label]:9.4f} {memory[label] / MIB:6.1f} MiB")
    dense, sparse = median[f"{args.backend} dense"], median[f"{args.backend} sparse"]
    reference = accuracy["torch dense"]
    print(f"\n  {args.backend} dense vs torch dense: {median['torch dense'] / dense:.2f}x as fast "
          f"(aim: at least 1)")
    print(f"  {args.backend} sparse vs torch dense: {median['torch dense'] / sparse:.2f}x as fast "
          f"(aim: at least 3); vs torch sparse: {median['torch sparse'] / sparse:.2f}x "
          f"(aim: at least 1)")
    print(f"  test accuracy, largest distance from torch dense: "
          f"{max(abs(a - reference) for a in accuracy.values()):.4f} (aim: within 0.02)")

    traced, resident = sparse_fit_memory(args.backend, args.seed, x_csr, y, args.batch_size)
    print(f"\nmemory of a sparse fit (one more epoch, fresh model): allocations (tracemalloc) "
          f"{traced / MIB:.1f} MiB, resident set {resident / MIB:.1f} MiB above its start; the "
          f"CSR data is {csr_bytes / MIB:.1f} MiB, the dense array {x.nbytes / MIB:.0f} MiB")
    profile_dots(args.backend, args.batch_size)


if __name__ == "__main__":
    main()
