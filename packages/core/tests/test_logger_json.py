"""
Tests for torsion.logger's JSON observer and reader.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.logger import (
    MAX_JSON_RECORD_SIZE,
    LogEvent,
    Logger,
    LogLevel,
    eventAsJSON,
    eventFromJSON,
    eventsFromJSONLogFile,
    extractField,
    formatEvent,
    globalLogPublisher,
    jsonFileLogObserver,
)
from torsion.python.failure import Failure


@pytest.fixture
def warnings() -> Iterator[list[LogEvent]]:
    seen: list[LogEvent] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"

    def __str__(self) -> str:
        return "opaque text"


def test_roundTripKeepsTextAndData() -> None:
    events: list[LogEvent] = []
    log = Logger(namespace="j", observer=events.append)
    log.warn("{obj} and {n:>4} {obj!r} {d[k]}", obj=Opaque(), n=5, d={"k": [1]})
    loaded = eventFromJSON(eventAsJSON(events[0]))
    assert formatEvent(loaded) == "opaque text and    5 <Opaque> [1]"
    assert loaded["log_level"] is LogLevel.warn
    assert loaded["log_namespace"] == "j"
    assert loaded["n"] == 5
    assert loaded["obj"] == {"unpersistable": True, "repr": "<Opaque>"}
    assert loaded["log_logger"]["unpersistable"] is True
    assert extractField("n", loaded) == 5


def test_roundTripFailure() -> None:
    try:
        raise KeyError("lost key")
    except KeyError:
        failure = Failure()
    text = eventAsJSON({"log_format": "oops", "log_failure": failure})
    loaded = eventFromJSON(text)
    restored = loaded["log_failure"]
    assert isinstance(restored, Failure)
    assert restored.getTraceback() == failure.getTraceback()
    assert "KeyError: 'lost key'" in restored.getTraceback()
    assert restored.getErrorMessage() == failure.getErrorMessage()
    assert restored.type.__qualname__ == "KeyError"


def test_eventAsJSONIsOneLine() -> None:
    text = eventAsJSON({"log_format": "a\nb", "s": "x\ny", "b": b"\xff\x00"})
    assert "\n" not in text
    assert eventFromJSON(text)["b"] == "\\xff\x00"


def test_eventAsJSONCircular() -> None:
    loop: list[object] = []
    loop.append(loop)
    loaded = eventFromJSON(eventAsJSON({"log_format": "x", "loop": loop, "ok": 1}))
    assert loaded["ok"] == 1
    assert loaded["loop"]["unpersistable"] is True


def test_eventAsJSONNonStringKeys() -> None:
    loaded = eventFromJSON(eventAsJSON({"d": {(1, 2): "x", "k": "v"}}))
    assert loaded["d"] == {"k": "v"}


def test_eventFromJSONRejectsNonObject() -> None:
    with pytest.raises(ValueError):
        eventFromJSON("[1, 2]")
    with pytest.raises(ValueError):
        eventFromJSON("{nope")


def test_unknownLevelKeptAsData() -> None:
    loaded = eventFromJSON(
        '{"log_level": {"__torsion_type__": "LogLevel", "name": "x"}}'
    )
    assert loaded["log_level"] == {"__torsion_type__": "LogLevel", "name": "x"}


@pytest.mark.parametrize("separator", ["\x1e", ""])
def test_fileRoundTrip(separator: str) -> None:
    out = io.StringIO()
    log = Logger(namespace="f", observer=jsonFileLogObserver(out, separator))
    for i in range(50):
        log.info("event {i}", i=i)
    lines = out.getvalue().split("\n")
    assert len(lines) == 51 and lines[-1] == ""
    assert all(line.startswith(separator) for line in lines[:-1])
    for data in (io.StringIO(out.getvalue()), io.BytesIO(out.getvalue().encode())):
        events = list(eventsFromJSONLogFile(data, bufferSize=7))
        assert [formatEvent(e) for e in events] == [f"event {i}" for i in range(50)]


def test_readerSkipsMalformed(warnings: list[LogEvent]) -> None:
    good = eventAsJSON({"log_format": "good"})
    data = (
        (
            f"\x1e{good}\n"
            "\x1e{not json\n"
            "\x1e[1, 2]\n"
            f"\x1e{good}"  # truncated: no newline before the next separator
            f"\x1e{good}\n"
        ).encode()
        + b"\x1e\xff\xfe\n"
        + f"\x1e{good}\n".encode()
    )
    events = list(eventsFromJSONLogFile(io.BytesIO(data)))
    assert [formatEvent(e) for e in events] == ["good", "good", "good"]
    messages = [formatEvent(w) for w in warnings]
    assert sum("Unable to read JSON record" in m for m in messages) == 2
    assert sum("truncated" in m for m in messages) == 1
    assert sum("Unable to decode UTF-8" in m for m in messages) == 1
    assert all(w["log_level"] is LogLevel.warn for w in warnings)


def test_readerNewlineMode(warnings: list[LogEvent]) -> None:
    good = eventAsJSON({"log_format": "ok"})
    data = f"{good}\n\ngarbage\n{good}"
    events = list(eventsFromJSONLogFile(io.StringIO(data), recordSeparator="\n"))
    assert [formatEvent(e) for e in events] == ["ok", "ok"]
    assert len(warnings) == 1


def test_readerRecordSizeLimit(warnings: list[LogEvent]) -> None:
    small = eventAsJSON({"log_format": "small"})
    big = eventAsJSON({"log_format": "big", "pad": "x" * 1000})
    data = f"\x1e{small}\n\x1e{big}\n\x1e{small}\n"
    limit = len(small) + 2
    events = list(
        eventsFromJSONLogFile(io.StringIO(data), bufferSize=64, maxRecordSize=limit)
    )
    assert [formatEvent(e) for e in events] == ["small", "small"]
    assert any("longer than" in formatEvent(w) for w in warnings)
    # A record exactly at the limit is accepted.
    exact = f"\x1e{small}\n"
    events = list(
        eventsFromJSONLogFile(
            io.StringIO(exact * 3), bufferSize=1, maxRecordSize=len(small) + 1
        )
    )
    assert len(events) == 3
    assert MAX_JSON_RECORD_SIZE >= 1024 * 1024


def test_readerEmptyFile() -> None:
    assert list(eventsFromJSONLogFile(io.StringIO(""))) == []


@given(st.binary(max_size=300))
def test_readerNeverRaises(data: bytes) -> None:
    for event in eventsFromJSONLogFile(io.BytesIO(data), bufferSize=16):
        assert isinstance(event, dict)


@given(
    st.dictionaries(
        st.text(min_size=1).filter(lambda k: not k.startswith("log_")),
        st.one_of(
            st.integers(),
            st.text(),
            st.booleans(),
            st.none(),
            st.floats(allow_nan=False),
        ),
    )
)
def test_jsonRoundTripsPlainData(fields: dict[str, object]) -> None:
    loaded = eventFromJSON(eventAsJSON(fields))
    assert loaded == json.loads(json.dumps(fields))
