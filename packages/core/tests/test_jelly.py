"""
Tests for ``torsion.spread.jelly``: round trips, shared references and
the allow-list.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from torsion.spread import banana, jelly
from torsion.spread.interfaces import IJellyable, IUnjellyable
from torsion.spread.jelly import (
    InsecureJelly,
    Jellyable,
    SecurityOptions,
    Unjellyable,
    setUnjellyableForClass,
    unjelly,
)


def roundTrip(obj: object, taster: SecurityOptions | None = None) -> Any:
    """
    Jelly, encode with banana, decode and unjelly, as PB does.
    """
    wire = banana.encode(jelly.jelly(obj), banana.PB_VOCABULARY)
    return unjelly(banana.decode(wire, banana.PB_VOCABULARY), taster)


def test_basicTypes() -> None:
    """
    Basic values survive the trip with their types.
    """
    values: list[Any] = [
        None,
        True,
        False,
        0,
        -7,
        2**100,
        1.25,
        b"bytes",
        "t\xe9xt",
        [1, [2]],
        (1, (2, "x")),
        {"a": 1, 2: [b"b"], (1, 2): None},
        {1, 2, "x"},
        frozenset([b"a"]),
        [],
        (),
        {},
    ]
    for value in values:
        result = roundTrip(value)
        assert result == value
        assert type(result) is type(value)


def test_subclassesOfBasicTypes() -> None:
    """
    Enums and other subclasses of basic types arrive as the plain value.
    """

    class Color(enum.IntEnum):
        RED = 3

    result = roundTrip([Color.RED])
    assert result == [3]
    assert type(result[0]) is int


def test_sharedReferences() -> None:
    """
    An object reached twice arrives as one object.
    """
    shared: list[int] = [1]
    result = roundTrip({"a": shared, "b": shared, "c": [1]})
    assert result["a"] is result["b"]
    assert result["a"] is not result["c"]


def test_cycles() -> None:
    """
    A list, dict or set-holding cycle is rebuilt as the same cycle.
    """
    loop: list[Any] = []
    loop.append(loop)
    result = roundTrip(loop)
    assert result[0] is result
    d: dict[str, Any] = {}
    d["self"] = [d]
    result = roundTrip(d)
    assert result["self"][0] is result


def test_sharedTuple() -> None:
    """
    A tuple used twice (not in a cycle) arrives once.
    """
    t = (1, 2)
    result = roundTrip([t, t])
    assert result[0] is result[1]


def test_unknownClassRefusedOnJelly() -> None:
    """
    With a taster, instances of classes it does not name are refused when
    jellying.
    """

    class Secret:
        pass

    with pytest.raises(InsecureJelly):
        jelly.jelly(Secret(), SecurityOptions())


def test_unknownTypeRefusedOnUnjelly() -> None:
    """
    A type name the receiver never registered is refused, and nothing is
    imported for it.
    """
    for name in [b"os.system", b"builtins.eval", b"torsion.spread.pb.Broker"]:
        with pytest.raises(InsecureJelly):
            unjelly([name, [b"dictionary"]])


class Point:
    """
    Plain class allowed explicitly.
    """

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y
        self.constructed = True


def test_allowInstancesOf() -> None:
    """
    A class allowed on both sides travels by state; its constructor does not
    run on the receiving side.
    """
    taster = SecurityOptions()
    taster.allowInstancesOf(Point)
    sent = Point(1, 2)
    sent.constructed = False
    result = roundTrip(sent, taster)
    assert isinstance(result, Point)
    assert (result.x, result.y, result.constructed) == (1, 2, False)
    with pytest.raises(InsecureJelly):
        roundTrip(sent, SecurityOptions())


class Thing(Jellyable):
    """
    Sender side.
    """

    copyableTypeName = "test_jelly.Thing"

    def __init__(self) -> None:
        self.name = "thing"
        self.private = "secret"

    def getStateFor(self, jellier: jelly.Jellier) -> Any:
        return {"name": self.name}


class ThingCopy(Unjellyable):
    """
    Receiver side.
    """


setUnjellyableForClass("test_jelly.Thing", ThingCopy)


def test_jellyableAndRegistry() -> None:
    """
    A ``Jellyable`` sends what ``getStateFor`` gives; the receiver rebuilds
    the registered class, which ``globalSecurity`` now allows.
    """
    result = roundTrip(Thing())
    assert isinstance(result, ThingCopy)
    assert result.__dict__ == {"name": "thing"}
    assert jelly.globalSecurity.isTypeAllowed(b"test_jelly.Thing")
    with pytest.raises(InsecureJelly):
        roundTrip(Thing(), SecurityOptions())


def test_sharedInstance() -> None:
    """
    A jellyable instance referenced twice arrives as one object.
    """
    t = Thing()
    result = roundTrip([t, t])
    assert result[0] is result[1]


@pytest.mark.parametrize(
    "sexp",
    [
        [],
        [b"None", 1],
        [b"boolean", b"maybe"],
        [b"unicode", b"\xff"],
        [b"dictionary", [1]],
        [b"dictionary", [[b"list"], 1]],
        [b"set", [b"list"]],
        [b"dereference", 5],
        [b"reference", 1, [b"dereference", 1]],
        [b"reference", 1, [b"tuple", [b"dereference", 1]]],
        [b"list", [b"reference", 1, 2], [b"reference", 1, 3]],
        [b"test_jelly.Thing", b"not a dict"],
        [b"test_jelly.Thing"],
        "text",
        [1, 2],
    ],
)
def test_malformed(sexp: Any) -> None:
    """
    Malformed expressions raise ``InsecureJelly``.
    """
    with pytest.raises(InsecureJelly):
        unjelly(sexp)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False)
    | st.binary(max_size=20)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_json)
def test_roundTripProperty(value: Any) -> None:
    """
    Any tree of basic values round trips through jelly and banana.
    """
    assert roundTrip(value) == value


_sexp = st.recursive(
    st.integers(min_value=-5, max_value=5)
    | st.sampled_from([*sorted(banana.PB_VOCABULARY), b"true", b"x", b"\xff"])
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300)
@given(_sexp)
def test_randomExpressionsOnlyInsecureJelly(sexp: Any) -> None:
    """
    Random expressions unjelly to something or raise ``InsecureJelly``.
    """
    try:
        unjelly(sexp)
    except InsecureJelly:
        pass


def test_interfaces() -> None:
    """
    ``Jellyable`` and ``Unjellyable`` provide their interfaces.
    """
    assert verifyObject(IJellyable, Thing())
    assert verifyObject(IUnjellyable, ThingCopy())
