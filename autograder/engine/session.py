"""One submission's child, seen from the grader: requests and replies under deadlines, the child's
CPU clock (read from the kernel, for speed tests), and the flags its failures earn.

A request that runs past its timeout (a student cell past ``Limits.cell_timeout_s``, a call from a
test past ``call_timeout_s``) is interrupted, as nbgrader interrupts a cell that runs past its
``Execute.timeout``: the child gets SIGINT, the student's code raises KeyboardInterrupt, and the
reply becomes nbgrader's CellTimeoutError for that request; grading goes on. nbgrader's timeout is
per cell, so the calls of one test cell share ``call_timeout_s`` (``test_cell``): each gets what
the cell has left. Any other failure (a child that does not stop within INTERRUPT_GRACE_S of the
interrupt too) leaves the session dead: the worker is stopped (its next session starts a fresh
zygote) and every later request fails at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import select
import signal
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autograder.engine import procfs, protocol, sandbox, shared_random, wire
from autograder.engine.sandbox import Limits

if TYPE_CHECKING:
    from autograder.engine.worker import Worker

_UCRED = struct.Struct("3i")
#: Seconds an interrupted child has to stop the student's code and reply, before it is killed.
INTERRUPT_GRACE_S = 5.0
#: Seconds the zygote has to report how its child ended. It reports within milliseconds, but on a
#: machine under heavy load it may not run for seconds, and without its report a child stopped at
#: its CPU cap reads as one that killed its zygote (a CI run beside other work saw that once).
REPORT_S = 15.0
#: A test cell with less than this left makes no more calls: they time out at once (an interrupt
#: sent as a call starts could land before the student's code runs, where the child drops it).
_CELL_SPENT_S = 0.05


@dataclass
class Budget:
    """A submission's wall-clock budget (``sandbox.submission_budget``): ``seconds`` in all, spent
    at ``deadline`` (time.monotonic())."""

    seconds: float
    deadline: float

    @classmethod
    def from_now(cls, seconds: float) -> Budget:
        return cls(seconds, time.monotonic() + seconds)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def limits(self, limits: Limits) -> Limits:
        """``limits`` as they apply under this budget (the ones a result records)."""
        return dataclasses.replace(limits, submission_s=self.seconds,
                                   cpu_s=sandbox.cpu_seconds(limits, self.seconds))


class SandboxFailure(BaseException):
    """The student's process timed out, died or broke the protocol. A BaseException, so that a
    test cell's ``except Exception`` cannot swallow it: the test fails."""

    def __init__(self, message: str, flag: str) -> None:
        super().__init__(message)
        self.flag = flag


class MachineFault(RuntimeError):
    """The machine, not the submission, ended its grading: its out-of-memory killer took a process
    of the submission that was within its own memory cap. A grader error, graded again."""


class ChildSession:
    """Requests to the child that grades one submission."""

    def __init__(self, worker: "Worker", sock: socket.socket, pid: int, budget: Budget,
                 cpu_s: int) -> None:
        self.worker, self.sock, self.pid = worker, sock, pid
        self.budget = budget  # the submission's wall-clock budget, which its notebooks share
        self.cpu_s = cpu_s    # the child's CPU seconds (``sandbox.cpu_seconds``)
        self.host_pid: int | None = None  # the child's pid in the grader's PID namespace
        self.failure: SandboxFailure | None = None
        self.exit_code: int | None = None
        self.stdout: list[str] = []   # what the student's code printed during the current test
        self.stderr: list[str] = []
        self.flags: set[str] = set()
        self.compile_s = 0.0          # seconds the child has spent in Numba's compiler
        self.sent = wire.ArrayCache()  # large arguments the child already holds
        self.cells: dict[int, str] = {}  # the student cells' sources as sent, by index (-index: a
        # cell magic's body, which runs from a file of its own)
        self.warning_baseline: list = []  # the warning filters a test starts with (its additions
                                          # reach the student's code: protocol.call_context)
        self.errstate = dict(protocol.NUMPY_ERRORS)  # the student's NumPy error handling after
                                                     # the last cell, which a test cell starts with
        self.machine_fault = ""  # why the machine, not the submission, ended it (MachineFault)
        self.cell_deadline: float | None = None  # time.monotonic() at which the test cell that
        self.cell_limit_s = 0.0                  # runs now has used its timeout (``test_cell``)
        self.interrupts = 0  # requests stopped past their timeout (CellTimeoutError replies)
        self.random = shared_random.Handover(first_sends=False)  # the stream tests share
        self.kept: dict[int, Any] = {}  # the grader's objects that tests passed to the child
        if worker.cgroup is not None:
            worker.cgroup.reset_peak()
        self._memory_events = worker.cgroup.memory_events() if worker.cgroup else (0, 0)
        self._machine_oom_kills = procfs.oom_kills()

    def start(self, timeout: float = 30.0) -> None:
        """Read the child's hello, with the credentials the kernel attached to it (its pid as
        this process sees it), and put the child in the worker's cgroup before any student code
        runs."""
        deadline = time.monotonic() + timeout
        if not select.select([self.sock], [], [], timeout)[0]:
            self._fail(SandboxFailure("the student's process did not start",
                                      "process-ended"), timeout)
            raise self.failure
        data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(_UCRED.size))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                self.host_pid = _UCRED.unpack(payload[:_UCRED.size])[0]
        buffer = bytearray(data)

        def read(n: int) -> bytes:
            while len(buffer) < n:
                buffer.extend(self.worker.read_bytes(self.sock, n - len(buffer), deadline))
            chunk = bytes(buffer[:n])
            del buffer[:n]
            return chunk

        try:
            hello, _ = wire.unpack(read)
        except (wire.WireError, UnicodeDecodeError, SandboxFailure):
            hello = {}
        if not protocol.is_message(hello, protocol.HELLO) or not self.host_pid:
            self._fail(SandboxFailure("the student's process did not say hello",
                                      "protocol"), timeout)
            raise self.failure
        if self.worker.cgroup is not None:
            self.worker.cgroup.add(self.host_pid)

    @contextlib.contextmanager
    def test_cell(self, limit: float) -> Iterator[None]:
        """A test cell runs: nbgrader times a cell as a whole, so its calls share ``limit``
        seconds from now (a call made when they are spent gets CellTimeoutError at once)."""
        self.cell_deadline, self.cell_limit_s = time.monotonic() + limit, limit
        try:
            yield
        finally:
            self.cell_deadline = None

    def request(self, message: dict[str, Any], blobs: list[bytes] = (), timeout: float | None = None
                ) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request and wait for its reply, at most ``timeout`` seconds (no longer than
        the running test cell has left, and never past the submission's budget); past it the
        child is interrupted (``_interrupt``)."""
        if self.failure is not None:
            raise SandboxFailure(f"{self.failure} earlier in this submission", self.failure.flag)
        timeout = self.worker.limits.call_timeout_s if timeout is None else timeout
        shown = timeout  # the timeout a CellTimeoutError names
        left = None if self.cell_deadline is None else self.cell_deadline - time.monotonic()
        if left is not None and left < timeout:
            timeout, shown = left, self.cell_limit_s
            if timeout < _CELL_SPENT_S:  # too late to start a call nbgrader would not have made
                return self._timed_out({}, shown), []
        budget = self.budget_left()
        if budget <= 0:
            self._fail(SandboxFailure("", "time-budget"), timeout)
            raise self.failure
        limit = min(timeout, budget)
        if message.get("op") != "timed":
            message = self.random.attach(message)
        try:
            self.sock.sendall(wire.pack(message, list(blobs)))
            deadline = time.monotonic() + limit
            while True:  # the student's code may call back the test's objects meanwhile
                if limit >= timeout and time.monotonic() >= deadline:
                    reply = self._interrupt(shown)  # it called back until its time ran out
                elif limit < timeout:
                    reply = self.worker.read(self.sock, deadline, watch=self.worker.watch)
                elif self.worker.wait_readable(self.sock, deadline, self.worker.watch):
                    # a message has begun: it gets to end, though the time runs out meanwhile
                    reply = self.worker.read(self.sock, time.monotonic() + INTERRUPT_GRACE_S,
                                             watch=self.worker.watch)
                else:
                    reply = self._interrupt(shown)
                if not protocol.is_callback(reply[0]):
                    break
                self._call_back(*reply)
        except SandboxFailure as failure:
            if failure.flag == "timeout" and limit < timeout:
                failure = SandboxFailure("", "time-budget")
            self._fail(failure, limit)
            raise self.failure from None
        except OSError:
            self._fail(SandboxFailure("the student's process ended", "process-ended"), limit)
            raise self.failure from None
        compile_s = reply[0].get("compile_s")
        if type(compile_s) in (int, float):
            self.compile_s = float(compile_s)
        self._receive_random(reply[0])
        return reply

    def _call_back(self, message: dict[str, Any], blobs: list[bytes]) -> None:
        """Answer what the student's code asked of an object a test passed it, while the request
        that led there waits (``proxies.answer_callback`` runs the test's own code). Outside a
        test cell (a student cell that kept the object calls it) what the test's code prints
        belongs to no test, and is dropped."""
        from autograder.engine.proxies import answer_callback  # proxies build on this module

        self._receive_random(message)
        with contextlib.ExitStack() as outside_a_test:
            if self.cell_deadline is None:
                outside_a_test.enter_context(contextlib.redirect_stdout(io.StringIO()))
                outside_a_test.enter_context(contextlib.redirect_stderr(io.StringIO()))
            answer, out = answer_callback(self, message, blobs)
        self.sock.sendall(wire.pack(self.random.attach({**answer, "op": protocol.ANSWER}), out))

    def _receive_random(self, message: dict[str, Any]) -> None:
        """Take the random state the child's message carries; one of the wrong form is
        flagged and changes nothing."""
        try:
            self.random.receive(message)
        except ValueError:
            self.flags.add("protocol")

    def _interrupt(self, timeout: float) -> tuple[dict[str, Any], list[bytes]]:
        """The reply to a request that ran past ``timeout``: SIGINT to the child, whose
        KeyboardInterrupt the servant replies with, turned into the error nbgrader gives a cell
        past its timeout (CellTimeoutError; its output, notes and flags kept), so that the next
        cells and tests run as they do in nbgrader. SandboxFailure where the child does not reply
        within INTERRUPT_GRACE_S (nor before the submission's budget ends)."""
        if select.select([self.sock], [], [], 0)[0]:  # the reply came as the time ran out
            reply = self._reply_past_time(time.monotonic() + INTERRUPT_GRACE_S, once=True)
            if reply is not None:
                return reply
        try:
            os.kill(self.host_pid, signal.SIGINT)  # known once started (``start``)
        except (ProcessLookupError, PermissionError):
            raise SandboxFailure("timed out", "timeout") from None
        budget = self.budget_left()
        grace = max(0.0, min(INTERRUPT_GRACE_S, budget))
        try:
            reply, blobs = self._reply_past_time(time.monotonic() + grace)
        except SandboxFailure as failure:  # still running, or ended by the interrupt
            if failure.flag == "disk-limit":
                raise
            spent = self.budget_left() <= 0
            raise SandboxFailure("timed out", "time-budget" if spent else "timeout") from None
        return self._timed_out(reply, timeout), blobs

    def _reply_past_time(self, deadline: float, once: bool = False
                         ) -> tuple[dict[str, Any], list[bytes]] | None:
        """The child's reply to a request past its time; what the student's code asks of the
        test's objects meanwhile is refused, not run (``once``: None after one such refusal)."""
        while True:
            reply = self.worker.read(self.sock, deadline, watch=self.worker.watch)
            if not protocol.is_callback(reply[0]):
                return reply
            error = protocol.error_record("TimeoutError", "the test cell ran out of time")
            self.sock.sendall(wire.pack({"op": protocol.ANSWER, "ok": False, "error": error}))
            if once:
                return None

    def _timed_out(self, reply: dict[str, Any], timeout: float) -> dict[str, Any]:
        """``reply`` turned into the CellTimeoutError nbgrader gives a cell past its timeout."""
        message = (f"timed out after {timeout:g} s and was interrupted, as nbgrader interrupts a "
                   "cell that runs past its timeout")
        notes = reply.get("notes") if isinstance(reply.get("notes"), list) else []
        reply.update(ok=False, error=protocol.error_record("CellTimeoutError", message),
                     notes=[*notes, message])
        self.flags.add("timeout")
        self.interrupts += 1
        return reply

    def out_of_time(self) -> bool:
        """Whether the submission's budget is spent (the session then fails, flagged)."""
        if self.failure is None and self.budget_left() <= 0:
            self._fail(SandboxFailure("", "time-budget"), 0)
        return self.failure is not None and self.failure.flag == "time-budget"

    def budget_left(self) -> float:
        """Seconds left of the submission's wall-clock budget."""
        return self.budget.left()

    # -- the child's clock, for speed tests
    def cpu_ns(self) -> int:
        """CPU time the child has used, all its threads and the children it reaped, as the
        kernel counts it (the student can patch no clock this reads)."""
        if self.host_pid is None:
            raise SandboxFailure("the student's process has no known pid", "protocol")
        try:
            return procfs.cpu_clock_ns(self.host_pid) + procfs.reaped_cpu_ns(self.host_pid)
        except OSError:
            self._fail(SandboxFailure("the student's process ended", "process-ended"), 0)
            raise self.failure from None

    def helpers(self) -> list[int]:
        """Processes of the submission besides the child itself, running now (work handed to
        them would not show on the child's clock)."""
        if self.host_pid is None:
            return []
        cgroup = self.worker.cgroup  # holds every descendant; else the child is a subreaper
        found = set(cgroup.procs() if cgroup is not None else procfs.children(self.host_pid))
        found.discard(self.host_pid)
        return sorted(found)

    # -- failures
    def _fail(self, failure: SandboxFailure, timeout: float) -> None:
        if failure.flag == "timeout":
            failure = SandboxFailure(f"timed out after {timeout:g} s", "timeout")
        elif failure.flag == "time-budget":
            failure = SandboxFailure(f"the submission's time budget of {self.budget.seconds:g} s "
                                     "ran out", "time-budget")
        elif failure.flag == "process-ended":
            code = self._exit_code()
            killed = self._oom_killed(died=True)
            if killed == "cap":
                failure = SandboxFailure("the student's process was killed for going over the "
                                         f"memory cap of {self.worker.limits.memory_mb} MB",
                                         "memory-limit")
            elif killed == "machine":
                failure = SandboxFailure(self.machine_fault, "machine-oom")
            elif code == -signal.SIGXCPU:
                failure = SandboxFailure(f"the student's process used its {self.cpu_s} CPU "
                                         "seconds (cpu_s) and was stopped", "cpu-limit")
            elif code is None:  # no word from the zygote either: the student's code killed it
                self.flags.add("worker-killed")
                failure = SandboxFailure("the student's process ended", "process-ended")
            else:
                failure = SandboxFailure(f"the student's process ended (exit status {code})",
                                         "process-ended")
        self.failure = failure
        self.close(kill=True)

    def _oom_killed(self, died: bool = False) -> str | None:
        """Whose shortage an OOM kill since the submission started answered: "cap" (its tree went
        over its own memory cap) or "machine" (the machine ran short while the tree was within
        its cap; ``machine_fault`` then says so); None if nothing of it was killed. ``died``: its
        child ended unasked, so a kill anywhere on the machine meanwhile (of its zygote, say)
        may be why; a retry tells, since a submission that kills itself does so again."""
        cgroup = self.worker.cgroup
        kills, cap_hits = cgroup.memory_events() if cgroup is not None else (0, 0)
        if not (kills > self._memory_events[0]
                or died and procfs.oom_kills() > self._machine_oom_kills):
            return None
        if cap_hits > self._memory_events[1]:
            return "cap"
        self.machine_fault = ("the machine ran out of memory and its OOM killer ended a process "
                              "of the submission, which was within its memory cap of "
                              f"{self.worker.limits.memory_mb} MB")
        return "machine"

    def _exit_code(self) -> int | None:
        """The child's exit status, as the zygote reports it, when it can within a moment."""
        if self.worker.control is None:
            return None
        try:
            message, _ = self.worker.read(self.worker.control, time.monotonic() + REPORT_S)
        except SandboxFailure:
            return None
        if not protocol.is_message(message, protocol.EXITED):
            return None
        self._exited(message)
        return message.get("code")

    def _exited(self, message: dict[str, Any]) -> None:
        """Note the zygote's report of the child's end: a capped place left full is flagged."""
        self.exit_code = message.get("code")
        if message.get("full"):
            self.flags.add("disk-limit")

    def close(self, kill: bool = False) -> None:
        """End the session: ask the child to finish, and collect the zygote's report of it; kill
        the worker if that does not happen promptly (or ``kill``). Whatever the submission left
        running in the worker's cgroup is killed."""
        if self.sock is None:
            return
        if not kill:
            try:
                self.sock.sendall(wire.pack(protocol.request("end")))
                message, _ = self.worker.read(self.worker.control, time.monotonic() + REPORT_S)
                kill = not protocol.is_message(message, protocol.EXITED)
                if not kill:
                    self._exited(message)
            except (OSError, SandboxFailure):
                kill = True
            if kill:  # the zygote is gone or confused: the student's code got at it
                self.flags.add("worker-killed")
        self.sock.close()
        self.sock = None
        if kill:
            self._kill_child()
            self.worker.stop()
        if self._oom_killed() == "cap":  # a process of the tree was killed, maybe not the child
            self.flags.add("memory-limit")
        if self.worker.cgroup is not None and self.worker.cgroup.procs():
            self.worker.cgroup.kill()

    def _kill_child(self) -> None:
        """Without a PID namespace the child is in its own session on this host: end its group."""
        pid = self.host_pid or self.pid
        if self.worker.mode != "bubblewrap" and pid > 1 and pid != os.getpid():
            try:
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
