"""
Tests for torsion.python.reflect.
"""

from __future__ import annotations

import importlib.abc
import os.path
import sys
import types

import pytest

from torsion.python import reflect
from torsion.python.reflect import (
    InvalidName,
    ModuleNotFound,
    ObjectNotFound,
    fullyQualifiedName,
    namedAny,
    namedModule,
    namedObject,
    qual,
    safe_repr,
    safe_str,
)


class Outer:
    class Inner:
        def method(self) -> None:
            pass


def function() -> None:
    pass


def test_qual() -> None:
    assert qual(Outer) == f"{__name__}.Outer"
    assert qual(Outer.Inner) == f"{__name__}.Outer.Inner"
    assert qual(ValueError) == "builtins.ValueError"


def test_fullyQualifiedName() -> None:
    assert fullyQualifiedName(reflect) == "torsion.python.reflect"
    assert fullyQualifiedName(Outer) == f"{__name__}.Outer"
    assert fullyQualifiedName(function) == f"{__name__}.function"
    assert fullyQualifiedName(Outer.Inner().method) == (
        f"{__name__}.Outer.Inner.method"
    )
    assert fullyQualifiedName(Outer.Inner.method) == f"{__name__}.Outer.Inner.method"
    assert fullyQualifiedName(3) == "3"


def test_namedAny() -> None:
    assert namedAny("os.path.join") is os.path.join
    assert namedAny("os") is os
    assert namedAny("collections.OrderedDict.fromkeys") is not None
    assert namedAny("torsion.python.reflect.qual") is qual
    assert namedObject("os.path.join") is os.path.join
    assert namedModule("os.path") is os.path


@pytest.mark.parametrize("name", ["", "os..path", ".os", "os."])
def test_namedAnyInvalid(name: str) -> None:
    with pytest.raises(InvalidName):
        namedAny(name)


def test_namedAnyMissing() -> None:
    with pytest.raises(ModuleNotFound):
        namedAny("no_such_module_torsion_test")
    with pytest.raises(ObjectNotFound):
        namedAny("os.path.no_such_function")
    assert issubclass(ModuleNotFound, InvalidName)
    assert issubclass(ObjectNotFound, InvalidName)


def test_namedAnyBrokenImportPropagates(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("torsion_test_broken_pkg")
    module.__path__ = []
    monkeypatch.setitem(sys.modules, "torsion_test_broken_pkg", module)
    finder_code = "import torsion_test_definitely_missing_dependency\n"

    class Loader(importlib.abc.Loader):
        def create_module(self, spec: object) -> None:
            return None

        def exec_module(self, mod: types.ModuleType) -> None:
            exec(finder_code, mod.__dict__)

    class Finder:
        def find_spec(self, name: str, path: object, target: object = None) -> object:
            if name == "torsion_test_broken_pkg.child":
                import importlib.util

                return importlib.util.spec_from_loader(name, Loader())
            return None

    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    with pytest.raises(ModuleNotFoundError, match="missing_dependency"):
        namedAny("torsion_test_broken_pkg.child.thing")


def test_safeRepr() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise ValueError("broken repr")

        __str__ = __repr__

    assert safe_repr([1]) == "[1]"
    text = safe_repr(Bad())
    assert "Bad" in text and "broken repr" in text and "repr error" in text
    text = safe_str(Bad())
    assert "broken repr" in text and "str error" in text
    assert safe_str("x") == "x"
    assert safe_str(b"caf\xc3\xa9 \xff") == "caf\xe9 \\xff"
