"""Keep student code from rigging the tests that grade it.

The tests of an nbgrader notebook run in the student's own kernel, after the student's
code, so a submission can redefine what the tests call: ``def abs(x): return 0``,
``builtins.isinstance = lambda *a: True`` or ``np.isclose = ...`` would make every
comparison pass. At grading time (never in the student's copy), the prepared notebook
gets a first cell that takes a snapshot of the builtins and of the modules tests use
(math, numpy, pandas and their ``testing`` helpers, the DataFrame and Series classes),
and each autograded test cell starts by restoring that snapshot and setting aside the
student's names that hide a builtin or a module alias (``abs``, ``np``...). A plain
cell after the test puts the student's names back, so later answers still see them.
If the student deletes the guard, the test cells fail instead of running unguarded.

This stops redefinitions and monkeypatching by ordinary code. It is not a security
boundary (student code can still look for the guard in memory): the sandbox is.
"""

from __future__ import annotations

import secrets

import nbformat

MARK = "dustcourse_guard"

_SETUP = '''\
def _dustcourse_make_guard():
    import builtins, math, sys
    import numpy, numpy.testing, pandas, pandas.testing
    modules = [builtins, math, numpy, numpy.testing, pandas, pandas.testing,
               pandas.DataFrame, pandas.Series]
    saved = [(m, dict(vars(m))) for m in modules]
    aliases = {"math": math, "np": numpy, "pd": pandas, "numpy": numpy, "pandas": pandas}
    setattr_, getattr_, object_ = builtins.setattr, builtins.getattr, builtins.object
    missing, stash = object_(), {}

    def before(namespace):
        for module, contents in saved:
            for name, value in contents.items():
                if vars(module).get(name, missing) is not value:
                    try:
                        setattr_(module, name, value)
                    except (AttributeError, TypeError):
                        pass
        stash.clear()
        for name in [n for n in namespace if n in saved[0][1] and not n.startswith("_")]:
            stash[name] = namespace.pop(name)
        pyplot = sys.modules.get("matplotlib.pyplot")
        for alias, module in dict(aliases, plt=pyplot).items():
            if module is not None and alias in namespace and namespace[alias] is not module:
                stash[alias] = namespace[alias]
                namespace[alias] = module

    def after(namespace):
        namespace.update(stash)
        stash.clear()

    return before, after


NAME = _dustcourse_make_guard()
del _dustcourse_make_guard
'''


def _guard_cell(source: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata[MARK] = True
    return cell


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


def add_guard(notebook: str) -> str:
    """The prepared notebook (JSON text) with the guard cells added around its tests."""
    nb = nbformat.reads(notebook, as_version=4)
    if not any(_is_test(cell) for cell in nb.cells):
        return notebook
    name = f"_dustcourse_guard_{secrets.token_hex(8)}"
    cells = [_guard_cell(_SETUP.replace("NAME = ", f"{name} = "))]
    for cell in nb.cells:
        if _is_test(cell):
            cell.source = f"{name}[0](globals())\n{cell.source}"
            cells += [cell, _guard_cell(f"{name}[1](globals())")]
        else:
            cells.append(cell)
    nb.cells = cells
    return nbformat.writes(nb)


def remove_guard(nb) -> None:
    """Take the guard out of an executed notebook (in place) before it is recorded."""
    nb.cells = [cell for cell in nb.cells if not cell.metadata.get(MARK)]
    for cell in nb.cells:
        if _is_test(cell) and cell.source.startswith("_dustcourse_guard_"):
            cell.source = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
