"""The grader's handle on one warm zygote: start it (sandboxed), stage a submission, open a session
with the child it forks, and kill everything when a deadline passes or the child misbehaves."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from autograder.engine import sandbox, wire
from autograder.engine.sandbox import Limits

#: Seconds a zygote may take to start and import its packages.
STARTUP_TIMEOUT = 180.0
#: Most bytes of a submission's folder (plus the released files) copied into the sandbox.
MAX_STAGED = 256 * 1024 * 1024


class SandboxFailure(BaseException):
    """The student's process timed out, died or broke the protocol. A BaseException, so that a
    test cell's ``except Exception`` cannot swallow it: the test fails."""

    def __init__(self, message: str, flag: str) -> None:
        super().__init__(message)
        self.flag = flag


class Worker:
    """One zygote, started lazily and restarted after anything went wrong."""

    def __init__(self, limits: Limits | None = None, mode: str | None = None) -> None:
        self.limits = limits or Limits()
        self.mode = mode or sandbox.isolation()
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.hello: dict[str, Any] = {}
        self.root = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
        self.workdir = self.root / "work"
        self.log = self.root / "zygote.log"

    # -- life cycle
    def start(self) -> None:
        """Start the zygote and wait until it has imported its packages."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the zygote without waiting for it (it warms up while the caller does other work)."""
        self.workdir.mkdir(exist_ok=True)
        mine, theirs = socket.socketpair()
        argv = [sys.executable, "-m", "autograder.engine.zygote", str(theirs.fileno())]
        env = sandbox.sandbox_env()
        if self.mode == "bubblewrap":
            if os.geteuid() == 0:
                argv.append("--drop-privileges")
                os.chown(self.workdir, sandbox.NOBODY, sandbox.NOBODY)
            argv = sandbox.bwrap_command(argv, str(self.workdir))
            _leave_font_cache(self.workdir / ".mplcache")
        else:
            env["HOME"] = str(self.root)
            env.pop("MPLCONFIGDIR")
            env["NUMBA_CACHE_DIR"] = str(self.root / "numba-cache")
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True,
                                         cwd=str(self.workdir))
        theirs.close()
        self.control = mine
        self.hello = {}

    def wait_ready(self) -> None:
        """Wait for the launched zygote's "ready"."""
        try:
            self.hello = self._read(self.control, time.monotonic() + STARTUP_TIMEOUT)[0]
        except SandboxFailure:
            self.stop()
            raise RuntimeError(f"the grading worker did not start ({self.mode}); its log:\n"
                               + self.log.read_text(errors="replace")[-3000:]) from None
        if self.hello.get("op") != "ready":
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
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- one submission
    def stage(self, folders: list[Path]) -> None:
        """Make the work folder a fresh copy of ``folders`` (later ones win), symlinks kept as
        links (never followed), capped in size; owned by the sandbox user."""
        self.workdir.mkdir(exist_ok=True)
        for entry in self.workdir.iterdir():  # empty it, keep it: the sandbox has it bind-mounted
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        total = 0
        for folder in folders:
            for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
                rel = path.relative_to(folder)
                if any(part.startswith(".ipynb_checkpoints") for part in rel.parts):
                    continue
                dest = self.workdir / rel
                if path.is_symlink():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if not dest.exists():
                        dest.symlink_to(os.readlink(path))
                elif path.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                elif path.is_file():
                    total += path.stat().st_size
                    if total > MAX_STAGED:
                        raise RuntimeError(f"{folder} is larger than {MAX_STAGED >> 20} MiB")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
        if self.mode == "bubblewrap" and os.geteuid() == 0:
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.lchown(path, sandbox.NOBODY, sandbox.NOBODY)

    def session(self, folders: list[Path], seed: int) -> "ChildSession":
        """Stage ``folders`` and fork a fresh child for one submission."""
        if not self.alive:
            self.stop()
            self.start()
        elif not self.hello:
            self.wait_ready()
        self.stage(folders)
        workdir = sandbox.WORKDIR if self.mode == "bubblewrap" else str(self.workdir)
        job = {"op": "job", "seed": seed, "limits": self.limits.to_dict(), "workdir": workdir}
        wire.write_all(self.control.fileno(), wire.pack(job))
        deadline = time.monotonic() + 30
        if not select.select([self.control], [], [], max(0.0, deadline - time.monotonic()))[0]:
            self.stop()
            raise RuntimeError("the grading worker did not fork a child")
        data, fds, _, _ = socket.recv_fds(self.control, 16, 1)
        if len(fds) != 1:
            self.stop()
            raise RuntimeError("the grading worker did not hand over the child's channel")
        if len(data) < 16:
            data += wire.read_exactly(self.control.fileno(), 16 - len(data))
        return ChildSession(self, socket.socket(fileno=fds[0]), int(data.decode().strip()))

    def _read(self, sock: socket.socket, deadline: float) -> tuple[dict[str, Any], list[bytes]]:
        """One message from ``sock`` before ``deadline``, or SandboxFailure."""
        def read(n: int) -> bytes:
            chunks, left = [], n
            while left:
                timeout = deadline - time.monotonic()
                if timeout <= 0 or not select.select([sock], [], [], timeout)[0]:
                    raise SandboxFailure("timed out", "timeout")
                chunk = sock.recv(min(left, 1 << 24))
                if not chunk:
                    raise SandboxFailure("the student's process ended", "process-ended")
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

        try:
            return wire.unpack(read, max_bytes=self.limits.transfer_mb * 2**20 + 2**20)
        except (wire.WireError, UnicodeDecodeError) as error:
            raise SandboxFailure(f"the student's process broke the protocol: {error}", "protocol") from None
        except OSError as error:
            raise SandboxFailure(f"the student's process channel failed: {error}", "process-ended") from None


def _leave_font_cache(folder: Path) -> None:
    """Copy matplotlib's font list (built here once) where the zygote picks it up."""
    import matplotlib

    if not any(Path(matplotlib.get_cachedir()).glob("fontlist-*.json")):
        import matplotlib.font_manager  # noqa: F401  (builds the font list)
    folder.mkdir(exist_ok=True)
    for path in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copyfile(path, folder / path.name)
    if os.geteuid() == 0:
        for path in [folder, *folder.iterdir()]:
            os.chown(path, sandbox.NOBODY, sandbox.NOBODY)


class ChildSession:
    """Requests to the child that grades one submission. After any failure the session is dead:
    the worker is stopped (its next session starts a fresh zygote) and every later request fails."""

    def __init__(self, worker: Worker, sock: socket.socket, pid: int) -> None:
        self.worker, self.sock, self.pid = worker, sock, pid
        self.failure: SandboxFailure | None = None
        self.exit_code: int | None = None
        self.stdout: list[str] = []   # what the student's code printed during the current test
        self.stderr: list[str] = []
        self.flags: set[str] = set()
        self.sent = wire.ArrayCache()  # large arguments the child already holds

    def request(self, message: dict[str, Any], blobs: list[bytes] = (), timeout: float | None = None
                ) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request and wait for its reply, at most ``timeout`` seconds."""
        if self.failure is not None:
            raise SandboxFailure(f"{self.failure} earlier in this submission", self.failure.flag)
        timeout = self.worker.limits.call_timeout_s if timeout is None else timeout
        try:
            self.sock.sendall(wire.pack(message, list(blobs)))
            reply = self.worker._read(self.sock, time.monotonic() + timeout)
        except SandboxFailure as failure:
            self._fail(failure, timeout)
            raise self.failure from None
        except OSError:
            self._fail(SandboxFailure("the student's process ended", "process-ended"), timeout)
            raise self.failure from None
        return reply

    def _fail(self, failure: SandboxFailure, timeout: float) -> None:
        if failure.flag == "timeout":
            failure = SandboxFailure(f"timed out after {timeout:g} s", "timeout")
        elif failure.flag == "process-ended":
            code = self._exit_code()
            if code is None:  # no word from the zygote either: the student's code killed it
                self.flags.add("worker-killed")
            failure = SandboxFailure(f"the student's process ended (exit status {code})"
                                     if code is not None else "the student's process ended", "process-ended")
        self.failure = failure
        self.close(kill=True)

    def _exit_code(self) -> int | None:
        """The child's exit status, as the zygote reports it, when it can within a moment."""
        if self.worker.control is None:
            return None
        try:
            message, _ = self.worker._read(self.worker.control, time.monotonic() + 2.0)
        except SandboxFailure:
            return None
        return message.get("code") if message.get("op") == "exited" else None

    def close(self, kill: bool = False) -> None:
        """End the session: ask the child to finish, and collect the zygote's report of it; kill
        the worker if that does not happen promptly (or ``kill``)."""
        if self.sock is None:
            return
        if not kill:
            try:
                self.sock.sendall(wire.pack({"op": "end"}))
                message, _ = self.worker._read(self.worker.control, time.monotonic() + 10.0)
                self.exit_code = message.get("code")
                kill = message.get("op") != "exited"
            except (OSError, SandboxFailure):
                kill = True
            if kill:  # the zygote is gone or confused: the student's code got at it
                self.flags.add("worker-killed")
        self.sock.close()
        self.sock = None
        if kill:
            self._kill_child()
            self.worker.stop()

    def _kill_child(self) -> None:
        """Without a PID namespace the child is in its own session on this host: end its group."""
        if self.worker.mode != "bubblewrap" and self.pid > 1 and self.pid != os.getpid():
            try:
                if os.getpgid(self.pid) == self.pid:
                    os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
