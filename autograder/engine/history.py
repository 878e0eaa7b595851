"""The names a kernel's history gives a notebook, as IPython's history manager and display hook
keep them: ``In`` (``_ih``) and ``_i``, ``_ii``, ``_iii``, ``_iN`` for the cells' inputs; ``Out``
(``_oh``) and ``_``, ``__``, ``___``, ``_N`` for the values that cells ended with. A cell that
reads them (``n = _[0]`` after a cell that showed ``x.shape``) would otherwise stop at a
NameError where a kernel goes on, and lose the functions it defines after that line.

The cells are numbered as nbgrader's kernel numbers them, tests included; a test cell's input is
kept empty here, as a hidden test's source stays with the grader."""

from __future__ import annotations

import builtins
import re
from pathlib import Path
from typing import Any

from IPython.core.displayhook import DisplayHook

#: The history's names: the kernel's, not the student's (the tests are not sent them).
NAMES = re.compile(r"(_{1,3}|_i{1,3}|_[iod]h|_i?\d+|In|Out)\Z")
UNDERS = ("_", "__", "___")


class History:
    """The inputs and outputs of a notebook's cells, kept in its ``namespace``."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.inputs: list[str] = [""]  # In[0], as IPython's
        self.outputs: dict[int, Any] = {}
        self.unders: tuple[Any, ...] = ("", "", "")  # the last three values
        self.pushed: dict[str, Any] = {}  # what the hook last gave _, __, ___ (since %reset)
        self.recent: tuple[str, ...] = ("", "", "", "")  # the input now, then _i, _ii, _iii
        self.start()
        namespace.update(zip(UNDERS, self.unders))

    def start(self) -> None:
        """The names a kernel starts with, and puts back after ``%reset`` emptied the
        namespace (the inputs kept, the outputs gone)."""
        self.pushed.clear()
        self.namespace.update(In=self.inputs, Out=self.outputs, _ih=self.inputs,
                              _oh=self.outputs, _dh=[Path.cwd()])

    def store_input(self, count: int, source: str, raw: str) -> None:
        """Cell ``count`` runs ``source``, written as ``raw``: ``In`` keeps the one, ``_iN`` the
        other (without their last newlines, as IPython keeps them); the cells before it that
        ran elsewhere (the tests) are kept empty."""
        while len(self.inputs) <= count:
            now = len(self.inputs) == count
            self.inputs.append(source.rstrip("\n") if now else "")
            self.recent = (raw.rstrip("\n") if now else "", *self.recent[:3])
            self.namespace.update(_i=self.recent[1], _ii=self.recent[2], _iii=self.recent[3])
            self.namespace[f"_i{len(self.inputs) - 1}"] = self.recent[0]

    def store_output(self, count: int, value: Any, source: str) -> None:
        """Cell ``count`` (``source``) ended with the expression ``value``: kept in ``Out``
        and ``_N``, and in ``_`` unless the cell ends with a semicolon, the value is None, or
        the student assigned ``_``, ``__`` or ``___`` themselves (IPython's rules, down to
        the value it last gave each, which ``%reset out`` does not forget)."""
        if value is None or value is self.outputs or \
                DisplayHook.semicolon_at_end_of_expression(source):
            return
        ours = all(self.namespace[name] is self.pushed.get(name, mine)
                   for name, mine in zip(UNDERS, self.unders) if name in self.namespace)
        self.unders = (value, *self.unders[:2])
        if ours and "_" not in vars(builtins):
            self.pushed.update(zip(UNDERS, self.unders))
            self.namespace.update(self.pushed)
        self.namespace[f"_{count}"] = self.outputs[count] = value

    def clear_outputs(self) -> None:
        """``%reset out``, and ``%reset``'s first step: ``Out`` and ``_N`` emptied, and ``_``,
        ``__``, ``___`` back to ''."""
        for count in self.outputs:
            self.namespace.pop(f"_{count}", None)
        self.outputs.clear()
        self.unders = ("", "", "")
        self.namespace.update(zip(UNDERS, self.unders))

    def clear_folders(self) -> None:
        """``%reset dhist``: the folder history (``_dh``) emptied."""
        self.namespace["_dh"][:] = []

    def clear_inputs(self) -> None:
        """``%reset in``: every input emptied, ``_iN`` gone (``In`` keeps its length)."""
        for count in range(1, len(self.inputs)):
            self.namespace.pop(f"_i{count}", None)
        self.inputs[:] = [""] * len(self.inputs)
        self.recent = ("", "", "", "")
        self.namespace.update(_i="", _ii="", _iii="")
