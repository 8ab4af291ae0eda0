"""Every public name of the installed zarr-python exists in zarrlayer, or docs/coming-from-zarr-python.md lists it.

Walks `zarr` (its __all__), `zarr.Array`, `zarr.Group`, `zarr.config` and `zarr.storage` (each
class's public members too), and the parameter names of every callable both sides have.
zarr-python's NotImplementedError stubs are skipped. A name counts as listed when it is the
first cell of a table row of the doc: `zarr.Array.async_array`, `zarr.create(synchronizer)`
(a parameter), `*(zarr_version)` (that parameter of any callable).
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import zarrlayer
import zarrlayer.storage
import zarrlayer.errors

zarr = pytest.importorskip("zarr")

DOC = Path(__file__).resolve().parents[2] / "docs" / "coming-from-zarr-python.md"
_TOKEN = re.compile(r"`(\*|zarr(?:\.\w+)+)(?:\(([\w, ]+)\))?`")
_SKIP_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def listed_names(text: str) -> set[str]:
    """The names and `name(param)` entries in the first cell of each table row of the doc."""
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cell = line.split("|")[1]
        for name, params in _TOKEN.findall(cell):
            if params:
                names.update(f"{name}({p.strip()})" for p in params.split(","))
            else:
                names.add(name)
    return names


def _function_node(func: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _statements(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    return [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]


def _raises_not_implemented(func: Any) -> bool:
    node = _function_node(func)
    if node is None:
        return False
    body = _statements(node)
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def is_stub(func: Any, counterpart: Any) -> bool:
    """zarr-python's NotImplementedError stubs: raising directly, or a sync wrapper of an async one that does."""
    func = inspect.unwrap(func)
    if _raises_not_implemented(func):
        return True
    return counterpart is not None and _raises_not_implemented(inspect.unwrap(counterpart))


def _params(func: Any) -> list[str] | None:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    return [n for n, p in signature.parameters.items() if p.kind not in _SKIP_KINDS and n not in ("self", "cls")]


def _walk() -> list[tuple[str, Any, Any, Any]]:
    """(qualified zarr name, zarr object, zarrlayer owner, async counterpart) for each public name."""
    import zarr.api.asynchronous as zasync

    found: list[tuple[str, Any, Any, Any]] = []
    for name in sorted(zarr.__all__):
        found.append((f"zarr.{name}", getattr(zarr, name), zarrlayer, getattr(zasync, name, None)))
    for cls, ours, asynchronous in ((zarr.Array, zarrlayer.Array, zarr.AsyncArray), (zarr.Group, zarrlayer.Group, zarr.AsyncGroup)):
        for name in sorted(n for n in dir(cls) if not n.startswith("_")):
            found.append((f"zarr.{cls.__name__}.{name}", inspect.getattr_static(cls, name), ours, getattr(asynchronous, name, None)))
    for name in sorted(n for n in dir(zarr.config) if not n.startswith("_")):
        found.append((f"zarr.config.{name}", getattr(zarr.config, name), zarrlayer.config, None))
    for name in sorted(zarr.storage.__all__):
        found.append((f"zarr.storage.{name}", getattr(zarr.storage, name), zarrlayer.storage, None))
        cls = getattr(zarr.storage, name)
        ours_cls = getattr(zarrlayer.storage, name, None)
        if inspect.isclass(cls) and ours_cls is not None:
            for member in sorted(n for n in dir(cls) if not n.startswith("_")):
                found.append((f"zarr.storage.{name}.{member}", inspect.getattr_static(cls, member), ours_cls, None))
    return found


def _callable_of(obj: Any) -> Any:
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    if isinstance(obj, property) or not callable(obj) or inspect.isclass(obj):
        return None
    return obj


def problems(listed: set[str]) -> list[str]:
    """Each zarr-python name (or parameter) that zarrlayer lacks and the doc does not list."""
    out: list[str] = []
    for qualified, theirs, owner, counterpart in _walk():
        func = _callable_of(theirs)
        if func is not None and is_stub(func, counterpart):
            continue
        name = qualified.rsplit(".", 1)[1]
        if qualified in listed:
            continue
        if not hasattr(owner, name):
            out.append(f"{qualified}: missing")
            continue
        ours = _callable_of(inspect.getattr_static(owner, name)) if inspect.isclass(owner) else getattr(owner, name)
        if func is None or ours is None or inspect.isclass(ours):
            continue
        their_params, our_params = _params(func), _params(ours)
        if their_params is None or our_params is None:
            continue
        for param in their_params:
            if param not in our_params and f"{qualified}({param})" not in listed and f"*({param})" not in listed:
                out.append(f"{qualified}({param}): parameter missing")
    return out


def test_every_zarr_python_name_is_implemented_or_listed() -> None:
    missing = problems(listed_names(DOC.read_text(encoding="utf-8")))
    assert not missing, (
        f"{len(missing)} names of zarr-python {zarr.__version__} neither in zarrlayer nor in {DOC.name}:\n"
        + "\n".join(missing)
    )


def test_the_walk_catches_a_missing_name_and_parameter() -> None:
    listed = listed_names(DOC.read_text(encoding="utf-8"))
    assert "zarr.Array.blocks" not in listed  # implemented, so the walk must see it
    without = listed - {"zarr.Array.async_array"}
    assert "zarr.Array.async_array: missing" in problems(without)
    assert listed_names("| `zarr.create(synchronizer, chunk_store)` | why |\n`zarr.zeros` in prose\n") == {
        "zarr.create(synchronizer)",
        "zarr.create(chunk_store)",
    }


def test_stubs_are_recognised() -> None:
    import zarr.api.asynchronous as zasync

    assert is_stub(zarr.copy, zasync.copy)
    assert not is_stub(zarr.zeros, zasync.zeros)


def error_problems(theirs: Any, ours: Any) -> list[str]:
    """Each public class of zarr-python's `zarr.errors` that `zarrlayer.errors` lacks, or has with other builtin bases.

    An exception must also be a ZarrlayerError; a warning class keeps its builtin warning base only.
    """
    out: list[str] = []
    for name in sorted(n for n in dir(theirs) if not n.startswith("_")):
        cls = getattr(theirs, name)
        if not (inspect.isclass(cls) and issubclass(cls, BaseException)):
            continue
        mine = getattr(ours, name, None)
        if mine is None:
            out.append(f"zarr.errors.{name}: missing")
            continue
        builtins_of = lambda c: {b for b in c.__mro__ if b.__module__ == "builtins"}  # noqa: E731
        if not builtins_of(cls) <= builtins_of(mine):
            out.append(f"zarr.errors.{name}: builtin bases {sorted(b.__name__ for b in builtins_of(cls) - builtins_of(mine))} missing")
        if not issubclass(cls, Warning) and not issubclass(mine, zarrlayer.errors.ZarrlayerError):
            out.append(f"zarr.errors.{name}: not a ZarrlayerError")
    return out


def test_every_zarr_errors_name_exists_with_the_same_builtin_bases() -> None:
    import zarr.errors

    assert not error_problems(zarr.errors, zarrlayer.errors)


def test_the_errors_walk_catches_a_missing_name_and_a_missing_base() -> None:
    import types

    import zarr.errors

    fake = types.SimpleNamespace(**{n: getattr(zarrlayer.errors, n) for n in dir(zarrlayer.errors) if not n.startswith("_")})
    del fake.GroupNotFoundError
    fake.ArrayIndexError = type("ArrayIndexError", (zarrlayer.errors.ZarrlayerError,), {})
    found = error_problems(zarr.errors, fake)
    assert "zarr.errors.GroupNotFoundError: missing" in found
    assert "zarr.errors.ArrayIndexError: builtin bases ['IndexError', 'LookupError'] missing" in found
