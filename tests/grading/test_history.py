"""The history names a kernel gives a notebook (``In``, ``Out``, ``_``, ``__``, ``___``, ``_N``,
``_i``, ``_iN``), kept by the sandbox's shell as IPython keeps them: random sequences of cells
run in the shell and in genuine IPython (its own ``InteractiveShell``, in a subprocess), and
every history name compared, with each cell's error."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from autograder.engine.history import NAMES
from autograder.engine.magics import MagicShell, transform

#: Cells that end with a value or not, hide it with a semicolon, assign or delete the history's
#: names, read them, and reset the history or the whole namespace.
CELLS = ["7", "(3, 2)", "x = 5;", "x;", "x * 2", "[1, 2]\n# a comment\n", "None", "'text'",
         "_ = 'mine'", "__ = 'two'", "del _", "del __", "y = _\ny", "print(_, __, ___)",
         "len(In)", "Out.get(2)", "_i", "%reset -f out", "%reset -f", "%reset -f in",
         "def f():\n    return 1\n\n\nf()", "import asyncio\nawait asyncio.sleep(0)\n4",
         "%time 5", "if True:\n    8\n"]
#: Runs each sequence of cells in a fresh IPython shell; prints each one's names and errors.
IPYTHON = r'''
import json, re, sys
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

config = Config()
config.HistoryManager.enabled = False
found = []
for cells in json.load(sys.stdin):
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(config=config)
    errors = []
    for cell in cells:
        result = shell.run_cell(cell, store_history=True)
        error = result.error_before_exec or result.error_in_exec
        errors.append(type(error).__name__ if error else None)
    found.append([{k: v for k, v in shell.user_ns.items() if re.match(sys.argv[1], k)}, errors])
print("\n" + json.dumps(found, default=repr))
'''


def in_the_shell(cells: list[str]) -> list:
    """The history's names after ``cells`` ran in the sandbox's shell, and each cell's error."""
    namespace: dict = {"__name__": "__main__"}
    shell = MagicShell(namespace)
    namespace["get_ipython"] = lambda: shell
    errors = []
    for count, cell in enumerate(cells, 1):
        try:
            shell.run_cell_source(count, transform(cell), "<cell>", cell)
        except Exception as error:  # noqa: BLE001 - compared with IPython's
            errors.append(type(error).__name__)
        else:
            errors.append(None)
    return [{k: v for k, v in namespace.items() if NAMES.match(k)}, errors]


def comparable(names: dict, errors: list) -> tuple:
    """The names as JSON would give them, the folder history by its length only."""
    names = json.loads(json.dumps(names, default=repr))
    names["_dh"] = len(names.get("_dh", []))
    return names, errors


def test_the_history_names_are_ipythons(capsys):
    generator = random.Random(2026)
    runs = [[generator.choice(CELLS) for _ in range(generator.randint(1, 14))]
            for _ in range(60)]
    done = subprocess.run([sys.executable, "-c", IPYTHON, NAMES.pattern],
                          input=json.dumps(runs), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout.splitlines()[-1])
    for cells, (names, errors) in zip(runs, theirs):
        assert comparable(*in_the_shell(cells)) == comparable(names, errors), cells
    capsys.readouterr()
