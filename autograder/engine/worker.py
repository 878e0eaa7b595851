"""The grader's handle on one warm zygote: start it (sandboxed, in a cgroup where it can), send it
a submission's files, open a session with the child it forks, and kill everything when a deadline
passes or the child misbehaves."""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from autograder.engine import cgroups, protocol, sandbox, wire
from autograder.engine.folders import owned_folder
from autograder.engine.sandbox import Limits
from autograder.engine.session import Budget, ChildSession, SandboxFailure
from autograder.engine.zygote import MPL_SEED_ENV

#: Seconds a zygote may take to start and import its packages.
STARTUP_TIMEOUT = 180.0
#: Most bytes of a submission's folder (plus the released files) sent into the sandbox.
MAX_STAGED = 256 * 1024 * 1024
#: Where matplotlib's font list appears inside bubblewrap.
MPL_SEED = "/run/autograder-mpl"
#: Seconds between checks of the work folder's size while a request runs (without bubblewrap).
WATCH_EVERY = 0.5
#: A worker's temporary folder is named for the grader process that made it.
ROOT_PREFIX = "autograder-worker-"
_workers = 0


class Worker:
    """One zygote, started lazily and restarted after anything went wrong."""

    def __init__(self, limits: Limits | None = None, mode: str | None = None,
                 execution: str = "autograde") -> None:
        global _workers
        self.limits = limits or Limits()
        self.mode = mode or sandbox.isolation()
        # nbgrader's variables, for the zygote and the tests, as nbgrader runs the notebook
        # (``execution``: "autograde" or "validate"); checked here, not when the zygote starts
        self.variables = sandbox.nbgrader_variables(execution)
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.hello: dict[str, Any] = {}
        self.root = owned_folder(ROOT_PREFIX)
        self.workdir = self.root / "work"  # the zygote's work folder without bubblewrap
        self.log = self.root / "zygote.log"
        _workers += 1
        self.cgroup = cgroups.create(cgroups.group_name(_workers), self.limits.memory_mb * 2**20,
                                     self.limits.nproc)
        # the GPUs only where the cgroup caps memory: a process using CUDA has no address-space
        # limit
        self.gpus = (sandbox.gpu_devices() if self.limits.gpu and self.cgroup is not None
                     else [])

    # -- life cycle
    def start(self) -> None:
        """Start the zygote and wait until it has imported its packages."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the zygote without waiting for it (it warms up while the caller does other
        work)."""
        self.workdir.mkdir(exist_ok=True)
        seed = self.root / "mplcache"
        _leave_font_cache(seed)
        mine, theirs = socket.socketpair()
        argv = [sys.executable, "-m", "autograder.engine.zygote", str(theirs.fileno())]
        env = {**sandbox.sandbox_env(), **self.variables}
        if self.gpus:
            argv += ["--gpu"]
        if self.cgroup is not None:
            argv += ["--cgroup"]
        if self.mode == "bubblewrap":
            if os.geteuid() == 0:
                argv += ["--uid", str(sandbox.sandbox_uid())]
            argv = sandbox.bwrap_command(argv, self.limits, binds={str(seed): MPL_SEED},
                                         devices=self.gpus)
            env[MPL_SEED_ENV] = MPL_SEED
        else:
            env[MPL_SEED_ENV] = str(seed)
            env["HOME"] = str(self.root)
            env.pop("MPLCONFIGDIR")
            env["NUMBA_CACHE_DIR"] = str(self.root / "numba-cache")
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True,
                                         cwd=str(self.workdir))
        theirs.close()
        self.control = mine
        self.hello = {}

    def wait_ready(self) -> None:
        """Wait for the launched zygote's "ready"."""
        try:
            self.hello = self.read(self.control, time.monotonic() + STARTUP_TIMEOUT)[0]
        except SandboxFailure:
            self.stop()
            raise RuntimeError(f"the grading worker did not start ({self.mode}); its log:\n"
                               + self.log.read_text(errors="replace")[-3000:]) from None
        if not protocol.is_message(self.hello, protocol.READY):
            self.stop()
            raise RuntimeError(f"the grading worker sent {self.hello!r} instead of 'ready'")

    def stop(self) -> None:
        """Kill the zygote's whole session (and with it, every child it forked)."""
        if self.proc is not None:
            if self.proc.pid > 1 and self.proc.pid != os.getpid():
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.proc.wait()
        if self.control is not None:
            self.control.close()
        self.proc = self.control = None

    def close(self) -> None:
        self.stop()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- one submission
    def files(self, folders: list[Path]) -> tuple[list[list[Any]], list[bytes]]:
        """The files of ``folders`` for a job (``protocol.folder_entries``), capped at the work
        folder's size."""
        return protocol.folder_entries(folders, min(MAX_STAGED, self.limits.work_mb * 2**20))

    def session(self, folders: list[Path], seed: int, budget: Budget) -> ChildSession:
        """Send ``folders`` and fork a fresh child for one submission, under what is left of its
        wall-clock ``budget`` (which the zygote's own start does not spend) and the CPU seconds
        that leaves it (``sandbox.cpu_seconds``)."""
        started = time.monotonic()
        if not self.alive:
            self.stop()
            self.start()
        elif not self.hello:
            self.wait_ready()
        budget.deadline += time.monotonic() - started
        limits = dataclasses.replace(self.limits,
                                     cpu_s=sandbox.cpu_seconds(self.limits, budget.left()))
        entries, blobs = self.files(folders)
        wire.write_all(self.control.fileno(),
                       wire.pack(protocol.job(seed, limits.to_dict(), entries), blobs))
        if not select.select([self.control], [], [], 30)[0]:
            self.stop()
            raise RuntimeError("the grading worker did not fork a child")
        data, fds, _, _ = socket.recv_fds(self.control, protocol.PID_FIELD, 1)
        if len(fds) != 1:
            self.stop()
            raise RuntimeError("the grading worker did not hand over the child's channel")
        if len(data) < protocol.PID_FIELD:
            data += wire.read_exactly(self.control.fileno(), protocol.PID_FIELD - len(data))
        session = ChildSession(self, socket.socket(fileno=fds[0]),
                               int(data.decode().strip()), budget, limits.cpu_s)
        session.start()
        return session

    def watch(self) -> None:
        """Between reads of a long request: without bubblewrap the work folder is on the host's
        disk, so its bytes are counted here (bubblewrap caps it as a tmpfs)."""
        if (self.mode != "bubblewrap"
                and _folder_bytes(self.workdir, self.limits.work_mb * 2**20) is None):
            raise SandboxFailure(f"the work folder went over its {self.limits.work_mb} MB cap",
                                 "disk-limit")

    # -- reading the zygote's and the child's sockets
    def wait_readable(self, sock: socket.socket, deadline: float,
                      watch: Callable[[], None] | None = None) -> bool:
        """Whether ``sock`` has bytes (or its end) to read before ``deadline``, without reading
        them; ``watch`` runs every WATCH_EVERY seconds of waiting."""
        while True:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return False
            if select.select([sock], [], [], min(timeout, WATCH_EVERY) if watch else timeout)[0]:
                return True
            if watch is not None:
                watch()

    def read_bytes(self, sock: socket.socket, n: int, deadline: float,
                   watch: Callable[[], None] | None = None) -> bytes:
        """Up to ``n`` bytes (at least one) from ``sock`` before ``deadline``, or SandboxFailure;
        ``watch`` runs every WATCH_EVERY seconds of waiting."""
        if not self.wait_readable(sock, deadline, watch):
            raise SandboxFailure("timed out", "timeout")
        chunk = sock.recv(min(n, 1 << 24))
        if not chunk:
            raise SandboxFailure("the student's process ended", "process-ended")
        return chunk

    def read(self, sock: socket.socket, deadline: float, watch: Callable[[], None] | None = None
             ) -> tuple[dict[str, Any], list[bytes]]:
        """One message from ``sock`` before ``deadline``, or SandboxFailure."""
        def read(n: int) -> bytes:
            chunks, left = [], n
            while left:
                chunk = self.read_bytes(sock, left, deadline, watch)
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

        try:
            return wire.unpack(read, max_bytes=self.limits.transfer_mb * 2**20 + 2**20)
        except (wire.WireError, UnicodeDecodeError) as error:
            raise SandboxFailure(f"the student's process broke the protocol: {error}",
                                 "protocol") from None
        except OSError as error:
            raise SandboxFailure(f"the student's process channel failed: {error}",
                                 "process-ended") from None


def _folder_bytes(folder: Path, cap: int) -> int | None:
    """Bytes in ``folder`` (allocated blocks), or None once they pass ``cap``."""
    total, stack = 0, [str(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
            if total > cap:
                return None
    return total


def _leave_font_cache(folder: Path) -> None:
    """Copy matplotlib's font list (built here once) where the zygote picks it up."""
    import matplotlib

    if not any(Path(matplotlib.get_cachedir()).glob("fontlist-*.json")):
        import matplotlib.font_manager  # builds the font list
    folder.mkdir(exist_ok=True)
    for path in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copyfile(path, folder / path.name)
