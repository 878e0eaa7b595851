"""The warm worker inside the sandbox: imports NumPy, Numba and the toolkit once, then forks one
child per submission (``python -m autograder.engine.zygote FD [--gpu] [--cgroup] [--uid UID]``;
``--gpu``: the worker opened GPUs to it, so its children get no address-space limit;
``--cgroup``: the worker puts each child in a pids cgroup, so it gets no RLIMIT_NPROC, see
``sandbox.apply_rlimits``).

The zygote starts no thread before it forks (BLAS pools are limited to one thread and Numba's
threading layer starts only when a child first runs a parallel function). For each job it writes
the submission's files into its work folder (a size-capped tmpfs under bubblewrap), makes a fresh
socket pair, forks, hands one end to the grader over its control socket and waits; the child, in a
new session and under resource limits, runs student cells and answers the grader's requests on
the other end (``servant.Servant``). When the child ends, the zygote kills whatever the child left
behind, empties the work folder (and the private /tmp and /dev/shm) and reports the exit status.
"""

from __future__ import annotations

import builtins
import ctypes
import os
import random
import shutil
import signal
import socket
import stat
import sys
import threading
import time
import traceback
from typing import Any, Callable

from autograder.engine import protocol, wire
from autograder.engine.sandbox import Limits, apply_rlimits

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 1, 4, 36
#: Where the grader leaves matplotlib's font list for the zygote (a read-only folder).
MPL_SEED_ENV = "AUTOGRADER_MPL_SEED"


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _reap(child: int) -> None:
    """Kill what a finished child left behind: its process group and, alone in a PID namespace,
    every other process there (never pid 1, never this zygote)."""
    try:
        os.killpg(child, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if os.getpid() <= 3:  # bubblewrap's PID namespace: pid 1 is its init, we are pid 2
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) > 2 and int(entry) != me:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def run_child(sock: socket.socket, job: dict[str, Any], job_dir: str,
              watched: dict[str, int], gpu: bool, cgroup: bool,
              seed_numba: Callable[[int], None]) -> None:
    """In the forked child: isolate, limit (``gpu``: it may use the GPUs opened to the zygote;
    ``cgroup``: the grader caps its tasks with a cgroup), seed (Python's, NumPy's and, with
    ``seed_numba``, Numba's generators, and the entropy of NumPy's unseeded ones), serve; never
    returns."""
    from autograder.engine.servant import Servant

    code = 0
    log = os.dup(2)  # the zygote's log, for the child's own failures (fd 2 gets captured)
    try:
        os.setsid()
        # the grader interrupts a request past its timeout with SIGINT (session.ChildSession):
        # a KeyboardInterrupt in the student's code, even where the grader was started with
        # SIGINT ignored (as a background job of a script), which the zygote would inherit
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        _prctl(_PR_SET_DUMPABLE, 1)
        # orphaned descendants stay its children: the grader sees them
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        limits = Limits(**job["limits"])
        os.makedirs(job_dir, mode=0o700, exist_ok=True)
        sys.path.insert(0, os.getcwd())
        apply_rlimits(limits, gpu=gpu, tasks_capped=cgroup)
        threading.stack_size(limits.thread_stack_kb * 1024)
        random.seed(job["seed"])
        import numpy

        numpy.random.seed(job["seed"])
        seed_numba(job["seed"])
        _seed_fresh_generators(job["seed"])
        Servant(sock, job_dir, limits, watched).serve()
    except BaseException:  # noqa: BLE001 - the child must never fall back into the zygote's loop
        try:
            os.write(log, traceback.format_exc().encode(errors="replace"))
        except BaseException:  # noqa: BLE001 - nothing more to do in a dying child
            pass
        code = 70
    finally:
        os._exit(code)


def empty_folder(folder: str, keep: tuple[str, ...] = ()) -> None:
    """Remove everything in ``folder`` (but ``keep``), whatever permissions a student left on it."""
    def writable_again(function: Any, path: str, _: Any) -> None:
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
            function(path)
        except OSError:
            pass

    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for name in entries:
        if name in keep:
            continue
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                os.chmod(path, stat.S_IRWXU)
            except OSError:
                pass
            shutil.rmtree(path, onerror=writable_again)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def main(argv: list[str]) -> None:
    """The zygote's loop: warm up, then one forked child per job request."""
    control = socket.socket(fileno=int(argv[0]))
    gpu = "--gpu" in argv  # the worker opened GPUs to this zygote
    cgroup = "--cgroup" in argv  # ... and puts each child in its cgroup
    if "--uid" in argv:  # bubblewrap as root: drop to the worker's own unprivileged user
        uid = int(argv[argv.index("--uid") + 1])
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
    _prctl(_PR_SET_DUMPABLE, 0)  # children of the same user cannot ptrace or open the zygote
    started = time.perf_counter()
    workdir = os.getcwd()
    _seed_matplotlib_cache()
    # warm imports, the point of the zygote
    import matplotlib
    import numba
    import numpy

    matplotlib.use("Agg")
    import matplotlib.pyplot

    from autograder.engine import magics

    matplotlib.pyplot.show = magics.show  # as IPython's inline backend shows: and closes
    import numba.core.event

    import autograder.asserts
    import autograder.engine.servant  # noqa: F401 - the child's modules, for _pin_builtins
    import toolkit
    import toolkit.kernels  # noqa: F401
    from autograder.engine.tampering import watch_snapshot

    seed_numba = _warm_numba()
    _pin_builtins()
    watched = watch_snapshot()
    threads = len(os.listdir("/proc/self/task"))
    fd = control.fileno()
    hello = {"op": protocol.READY, "pid": os.getpid(), "uid": os.getuid(), "threads": threads,
             "warmup_s": time.perf_counter() - started,
             "versions": {"python": sys.version.split()[0], "numpy": numpy.__version__,
                          "numba": numba.__version__}}
    wire.write_all(fd, wire.pack(hello))
    private = os.getpid() <= 3  # bubblewrap's PID namespace: /tmp and /dev/shm are ours alone
    # the child's own files: in our /tmp, or else in the worker's folder, which the grader
    # removes even when it had to kill this zygote with a child running
    jobs_folder = "/tmp" if private else os.path.dirname(workdir)
    jobs = 0
    while True:
        try:
            job, blobs = wire.unpack(lambda n: wire.read_exactly(fd, n))
        except (EOFError, OSError, wire.WireError):
            return
        if not protocol.is_message(job, protocol.JOB):
            return
        jobs += 1
        job_dir = os.path.join(jobs_folder, f"agjob-{os.getpid()}-{jobs}")
        protocol.write_entries(workdir, job.get("files") or [], blobs)
        del blobs
        parent_end, child_end = socket.socketpair()
        # the grader learns the child's pid
        parent_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        for end in (parent_end, child_end):  # big buffers: an array crosses in one go
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                end.setsockopt(socket.SOL_SOCKET, option, protocol.BUFFER)
        pid = os.fork()
        if pid == 0:
            control.close()
            parent_end.close()
            run_child(child_end, job, job_dir, watched, gpu, cgroup, seed_numba)
        child_end.close()
        socket.send_fds(control, [b"%-*d" % (protocol.PID_FIELD, pid)], [parent_end.fileno()])
        parent_end.close()
        _, status = os.waitpid(pid, 0)
        _reap(pid)
        full = [place for place in (workdir, "/tmp", "/dev/shm") if private and _is_full(place)]
        empty_folder(job_dir)
        try:
            os.rmdir(job_dir)
        except OSError:
            pass
        empty_folder(workdir)
        if private:  # leave nothing in /tmp or /dev/shm for the next student
            empty_folder("/tmp", keep=("matplotlib",))
            empty_folder("/dev/shm")
        wire.write_all(fd, wire.pack(protocol.exited(os.waitstatus_to_exitcode(status), full)))


def _is_full(place: str) -> bool:
    """Whether the file system at ``place`` has less than a megabyte left."""
    try:
        found = os.statvfs(place)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 2**20


def _pin_builtins() -> None:
    """Give the engine's own modules (and NumPy's .npy writer) private references to the
    builtins, so a student who replaces ``builtins.len`` breaks only their own code."""
    pristine = {k: v for k, v in vars(builtins).items() if not k.startswith("__")}
    for name, module in list(sys.modules.items()):
        if name.startswith("autograder.engine.") or name == "numpy.lib.format" or \
                name.split(".")[0] in sys.stdlib_module_names and name != "builtins":
            namespace = getattr(module, "__dict__", None)
            if type(namespace) is dict:
                for key, value in pristine.items():
                    namespace.setdefault(key, value)
    for key, value in pristine.items():  # this module, run as __main__
        globals().setdefault(key, value)


def _seed_fresh_generators(seed: int) -> None:
    """NumPy's generators made without a seed (``np.random.default_rng()``, NumPy's advice for
    new code; ``SeedSequence()``) take their entropy from the OS: a student's weights drawn so
    would differ on each grading, and with them a score that rests on training. Here that
    entropy comes from a stream of the submission's seed, apart from the generators the tests
    share: each new generator still draws other numbers, the same on every grading. (Python's
    ``random.Random()`` keeps the OS's: ``tempfile`` names files by it.)"""
    import numpy.random.bit_generator as bit_generator

    bit_generator.randbits = random.Random(f"numpy entropy {seed}").getrandbits


def _warm_numba() -> Callable[[int], None]:
    """Compile one small loop function, so that each child starts with Numba's compiler already
    initialised (the first compilation in a process costs about a second more than later ones);
    return the seeder of Numba's own generator, compiled. Nothing parallel is compiled: that
    would start Numba's thread pool before the fork.

    Numba's generator, which compiled code draws from, is seeded from the OS in every process it
    finds itself forked into: unseeded, a student's ``@njit`` function that draws would draw
    other numbers on each grading. Each child seeds it as it seeds NumPy's."""
    import numpy as np
    from numba import njit

    @njit
    def seed_numba(value):
        np.random.seed(value)

    seed_numba(0)

    @njit
    def warm(x, y):
        z = np.zeros((x.shape[0], y.shape[1]))
        for i in range(x.shape[0]):
            for j in range(y.shape[1]):
                for t in range(x.shape[1]):
                    z[i, j] += max(x[i, t], 0.0) * y[t, j]
        return z.copy()

    warm(np.ones((2, 2)), np.ones((2, 2)))
    return seed_numba


def _seed_matplotlib_cache() -> None:
    """Copy the font list the grader left (``MPL_SEED_ENV``) to MPLCONFIGDIR, so matplotlib does
    not rebuild it at every start of a sandbox."""
    seed, target = os.environ.get(MPL_SEED_ENV), os.environ.get("MPLCONFIGDIR")
    if seed and target and os.path.isdir(seed):
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(seed):
            shutil.copyfile(os.path.join(seed, name), os.path.join(target, name))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
