"""A typed-numbers submission: every answer a constant copied from the solution's output.

:func:`typed_answers` runs the solution notebook of an assignment once (on the real
data, no sandbox: it is the instructor's code) and returns, for each answer cell, code
that assigns each name the solution's answer cell defines its value as a constant
(``{grade_id: code}``, the form :func:`dustcourse.submissions.make_submission` takes).
Such a submission scores full marks on the real data and must lose every data-following
question in the robustness run. The solution's imports and function definitions are kept
(a function cannot be typed; a student copying results still writes the function);
answer cells with a value that cannot be written as a constant (a figure) keep the
solution's code. Used for every problem set (tests/test_robustness.py for ps0, the
RobustnessRun classes of exercise_fixtures for ps1..ps4).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat

_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)

# Runs in the solution's kernel: each name as code that rebuilds it from a constant.
_DUMP = '''
import json as _json, pickle as _pickle, types as _types
def _typed_constant(value):
    if isinstance(value, (bool, int, float, str, type(None))):
        return repr(value)
    if isinstance(value, (list, tuple, dict)) and repr(value).isascii():
        try:
            if eval(repr(value)) == value:
                return repr(value)
        except Exception:
            pass
    if isinstance(value, (_types.FunctionType, _types.ModuleType, type)):
        return None
    module = type(value).__module__.split(".")[0]
    if module not in ("pandas", "numpy") and not isinstance(value, (list, tuple, dict)):
        return None  # a figure, an axis...
    try:
        data = _pickle.dumps(value)
    except Exception:
        return None  # holds something that cannot be stored (a figure...)
    return "__import__('pickle').loads(bytes.fromhex(%r))" % data.hex()
print(_json.dumps({_n: _typed_constant(globals()[_n]) for _n in NAMES if _n in globals()}))
'''


def _statements(body):
    """The statements of ``body`` and of the blocks inside it (if, for, with, try), not
    those inside function or class definitions."""
    for node in body:
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for block in ("body", "orelse", "finalbody"):
                yield from _statements(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from _statements(handler.body)


def _assigned_names(code: str) -> list[str]:
    names = []
    for node in _statements(ast.parse(code).body):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and name.id not in names:
                    names.append(name.id)
    return names


def _definitions(code: str) -> str:
    """The imports and function or class definitions of ``code``, as written."""
    lines = code.splitlines(keepends=True)
    kept = [node for node in ast.parse(code).body
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
    return "".join("".join(lines[(n.decorator_list[0].lineno if getattr(n, "decorator_list", None)
                                  else n.lineno) - 1:n.end_lineno]) for n in kept)


_CACHE: dict[str, dict[str, str]] = {}


def typed_answers(source_notebook: Path) -> dict[str, str]:
    """{answer grade id: code assigning constants} for the solution in ``source_notebook``
    (computed once per session for the same notebook and data)."""
    import hashlib

    digest = hashlib.sha256(Path(source_notebook).read_bytes())
    for path in sorted((Path(source_notebook).parent / "data").glob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    key = digest.hexdigest()
    if key not in _CACHE:
        _CACHE[key] = _typed_answers(Path(source_notebook))
    return dict(_CACHE[key])


def _typed_answers(source_notebook: Path) -> dict[str, str]:
    from nbclient import NotebookClient

    from dustcourse.grading.socket_kernels import SocketKernelManager

    nb = nbformat.read(source_notebook, as_version=4)
    answers: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            match = _SOLUTION.search(cell.source)
            if match:
                answers[meta["grade_id"]] = _assigned_names(match.group(1))
                sources[meta["grade_id"]] = cell.source
    names = sorted({n for ns in answers.values() for n in ns})
    nb.cells.append(nbformat.v4.new_code_cell(_DUMP.replace("NAMES", repr(names))))
    # Unix sockets, not TCP ports another process's kernel could take first
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   kernel_manager_class=SocketKernelManager,
                   resources={"metadata": {"path": str(source_notebook.parent)}}).execute()
    output = next(o for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    constants = json.loads(output["text"])
    typed = {}
    for grade_id, assigned in answers.items():
        if assigned and all(constants.get(n) is not None for n in assigned):
            solution = _SOLUTION.search(sources[grade_id]).group(1)
            code = _definitions(solution)
            code += "".join(f"{n} = {constants[n]}\n" for n in assigned)
            # the cell's own lines outside the solution (constants it gives, a display)
            typed[grade_id] = _SOLUTION.sub(lambda _, code=code: code, sources[grade_id])
    return typed
