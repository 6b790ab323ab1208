"""
Tests for the legacy logging API, torsion.python.log, and its translation to
and from torsion.logger events.
"""

from __future__ import annotations

import io
import logging
import types
import warnings
from collections.abc import Iterator
from typing import IO, Any, cast

import pytest

from torsion.logger import (
    LogBeginner,
    LogEvent,
    Logger,
    LoggingFile,
    LogLevel,
    LogPublisher,
    formatEvent,
    globalLogPublisher,
)
from torsion.python import log
from torsion.python.failure import Failure, NoCurrentExceptionError


@pytest.fixture
def legacyEvents() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    log.addObserver(seen.append)
    yield seen
    log.removeObserver(seen.append)


@pytest.fixture
def newEvents() -> Iterator[list[LogEvent]]:
    seen: list[LogEvent] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


def test_msgReachesLegacyAndNewObservers(
    legacyEvents: list[dict[str, Any]], newEvents: list[LogEvent]
) -> None:
    log.msg("hello", 42, extra="x")
    (legacy,) = legacyEvents
    assert legacy["message"] == ("hello", 42)
    assert legacy["isError"] == 0
    assert legacy["system"] == "-"
    assert legacy["extra"] == "x"
    assert log.textFromEventDict(legacy) == "hello 42"
    (new,) = newEvents
    assert formatEvent(new) == "hello 42"
    assert new["log_level"] is LogLevel.info
    assert new["log_namespace"] == "log_legacy"
    assert new["log_system"] == "-"


def test_msgLogLevel(newEvents: list[LogEvent]) -> None:
    log.msg("quiet", logLevel=logging.DEBUG)
    log.msg("loud", logLevel=logging.WARNING)
    assert [e["log_level"] for e in newEvents] == [LogLevel.debug, LogLevel.warn]


def test_newEventsReachLegacyObservers(legacyEvents: list[dict[str, Any]]) -> None:
    Logger(namespace="modern").warn("count={n}", n=3)
    (legacy,) = legacyEvents
    assert legacy["message"] == ()
    assert legacy["isError"] == 0
    assert legacy["logLevel"] == logging.WARNING
    assert log.textFromEventDict(legacy) == "count=3"
    assert legacy["system"] == "-"
    assert isinstance(legacy["time"], float)


def test_newErrorLevelIsError(legacyEvents: list[dict[str, Any]]) -> None:
    Logger(namespace="modern").error("bad")
    assert legacyEvents[0]["isError"] == 1


def test_newFailureReachesLegacyObservers(legacyEvents: list[dict[str, Any]]) -> None:
    failure = Failure(ValueError("nope"))
    Logger(namespace="modern").failure("while {x}", failure, x="working")
    (legacy,) = legacyEvents
    assert legacy["isError"] == 1
    assert legacy["failure"] is failure
    assert legacy["why"] == "while working"
    text = log.textFromEventDict(legacy)
    assert text is not None
    assert text.startswith("while working\n")
    assert "ValueError: nope" in text


def test_legacyObserverDoesNotChangeEventForOthers(
    legacyEvents: list[dict[str, Any]], newEvents: list[LogEvent]
) -> None:
    Logger(namespace="modern").info("plain")
    assert "message" not in newEvents[0]


def test_errCurrentException(
    legacyEvents: list[dict[str, Any]], newEvents: list[LogEvent]
) -> None:
    try:
        raise KeyError("k")
    except KeyError:
        log.err(None, "while looking")
    (legacy,) = legacyEvents
    assert legacy["isError"] == 1
    assert legacy["why"] == "while looking"
    assert legacy["failure"].check(KeyError)
    (new,) = newEvents
    assert new["log_level"] is LogLevel.critical
    assert new["log_failure"] is legacy["failure"]
    assert formatEvent(new) == "while looking"


def test_errFailureExceptionAndOther(legacyEvents: list[dict[str, Any]]) -> None:
    failure = Failure(RuntimeError("f"))
    log.err(failure)
    log.err(OSError("e"), system="sys")
    log.err("just text")
    assert legacyEvents[0]["failure"] is failure
    assert legacyEvents[1]["failure"].check(OSError)
    assert legacyEvents[1]["system"] == "sys"
    assert legacyEvents[2]["message"] == ("'just text'",)
    assert all(e["isError"] == 1 for e in legacyEvents)
    text = log.textFromEventDict(legacyEvents[0])
    assert text is not None and text.startswith("Unhandled Error\n")
    assert log.deferr is log.err


def test_errOutsideExcept() -> None:
    with pytest.raises(NoCurrentExceptionError):
        log.err()


def test_textFromEventDict() -> None:
    assert log.textFromEventDict({"message": (), "format": "%(a)s!", "a": 1}) == "1!"
    bad = log.textFromEventDict({"message": (), "format": "%(missing)s"})
    assert bad is not None and bad.startswith("Invalid format string")
    assert log.textFromEventDict({"message": ()}) is None
    assert log.textFromEventDict({"log_format": "{x}", "x": 2}) == "2"

    class BadStr:
        def __str__(self) -> str:
            raise ValueError("no")

    text = log.textFromEventDict({"message": (BadStr(), "ok")})
    assert text is not None and "ok" in text and "BadStr" in text


def test_callWithContext(legacyEvents: list[dict[str, Any]]) -> None:
    def logBoth() -> int:
        log.callWithContext({"system": "inner"}, log.msg, "in")
        log.msg("out")
        return 7

    result = log.callWithContext({"system": "outer", "k": 1}, logBoth)
    log.msg("none")
    assert result == 7
    assert [(e["system"], e.get("k")) for e in legacyEvents] == [
        ("inner", 1),
        ("outer", 1),
        ("-", None),
    ]


def test_callWithLogger(legacyEvents: list[dict[str, Any]]) -> None:
    class Proto(log.Logger):
        def logPrefix(self) -> str:
            return "Proto,1"

    def work(x: int) -> int:
        log.msg("working")
        return x * 2

    assert log.callWithLogger(Proto(), work, 4) == 8

    def fail() -> None:
        raise ValueError("in callback")

    assert log.callWithLogger(Proto(), fail) is None
    assert [e["system"] for e in legacyEvents] == ["Proto,1", "Proto,1"]
    assert legacyEvents[1]["failure"].check(ValueError)
    assert log.Logger().logPrefix() == "-"


def test_callWithLoggerBuggyPrefix(legacyEvents: list[dict[str, Any]]) -> None:
    class Buggy:
        def logPrefix(self) -> str:
            raise AttributeError("oops")

    assert log.callWithLogger(Buggy(), lambda: 5) == 5
    assert legacyEvents[0]["system"] == "(buggy logPrefix method)"
    assert legacyEvents[0]["isError"] == 1


def test_publisherObservers(legacyEvents: list[dict[str, Any]]) -> None:
    assert legacyEvents.append in log.theLogPublisher.observers
    log.addObserver(legacyEvents.append)
    log.msg("once")
    assert len(legacyEvents) == 1


def test_separateLegacyPublisher() -> None:
    new = LogPublisher()
    publisher = log.LogPublisher(new)
    legacy: list[dict[str, Any]] = []
    modern: list[LogEvent] = []
    publisher.addObserver(legacy.append)
    new.addObserver(modern.append)
    publisher.msg("a")
    assert len(legacy) == 1 and len(modern) == 1
    publisher.removeObserver(legacy.append)
    publisher.msg("b")
    assert len(legacy) == 1


def test_brokenLegacyObserverDoesNotStopOthers(
    legacyEvents: list[dict[str, Any]],
) -> None:
    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("broken legacy observer")

    log.addObserver(broken)
    try:
        log.msg("still delivered")
    finally:
        log.removeObserver(broken)
    assert log.textFromEventDict(legacyEvents[0]) == "still delivered"
    assert legacyEvents[1]["isError"] == 1
    assert legacyEvents[1]["failure"].check(RuntimeError)


def test_fileLogObserver() -> None:
    out = io.StringIO()
    observer = log.FileLogObserver(out)
    observer.timeFormat = "T"
    observer.emit({"message": ("a", "b\nc"), "time": 0.0, "system": "S"})
    observer.emit({"message": (), "time": 0.0, "system": "S"})
    assert out.getvalue() == "T [S] a b\n\tc\n"
    assert isinstance(observer.getTimezoneOffset(0.0), int)
    assert log.FileLogObserver(io.StringIO()).formatTime(0.0)[:2] == "19"


def test_fileLogObserverStartStop() -> None:
    out = io.StringIO()
    observer = log.FileLogObserver(out)
    observer.start()
    try:
        log.msg("visible")
        Logger(namespace="n").info("also {v}", v="visible")
    finally:
        observer.stop()
    log.msg("invisible")
    lines = out.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["visible", "also visible"]


def test_pythonLoggingObserver() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("torsion.test.legacy")
    logger.addHandler(Keep())
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    observer = log.PythonLoggingObserver("torsion.test.legacy")
    observer.start()
    try:
        log.msg("info")
        log.msg("dbg", logLevel=logging.DEBUG)
        log.err(ValueError("x"))
    finally:
        observer.stop()
    assert [(r.levelno, r.getMessage().splitlines()[0]) for r in records] == [
        (logging.INFO, "info"),
        (logging.DEBUG, "dbg"),
        (logging.ERROR, "Unhandled Error"),
    ]


def test_showwarning(legacyEvents: list[dict[str, Any]]) -> None:
    log.showwarning(UserWarning("careful"), UserWarning, "w.py", 9)
    assert "w.py:9: UserWarning: careful" in str(log.textFromEventDict(legacyEvents[0]))
    out = io.StringIO()
    log.showwarning(UserWarning("to file"), UserWarning, "w.py", 9, out)
    assert "to file" in out.getvalue()
    assert len(legacyEvents) == 1


@pytest.fixture
def beginner(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.SimpleNamespace]:
    publisher = LogPublisher()
    stdio = types.SimpleNamespace(stdout=io.StringIO(), stderr=io.StringIO())
    fakeWarnings = types.SimpleNamespace(showwarning=warnings.showwarning)
    fresh = LogBeginner(publisher, io.StringIO(), stdio, fakeWarnings)
    monkeypatch.setattr(log, "globalLogBeginner", fresh)
    monkeypatch.setattr(log, "theLogPublisher", log.LogPublisher(publisher))
    yield types.SimpleNamespace(publisher=publisher, stdio=stdio)


def test_startLogging(beginner: types.SimpleNamespace) -> None:
    log.msg("early")
    out = io.StringIO()
    observer = log.startLogging(out)
    assert isinstance(observer, log.FileLogObserver)
    print("printed", file=beginner.stdio.stdout)
    texts = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert texts == ["early", "Log opened.", "printed"]
    assert isinstance(beginner.stdio.stdout, LoggingFile)


def test_startLoggingNoStdout(beginner: types.SimpleNamespace) -> None:
    out = io.StringIO()
    log.startLogging(out, setStdout=False)
    assert not isinstance(beginner.stdio.stdout, LoggingFile)
    # A LoggingFile is what sys.stdout is once redirected to the log.
    assert log.startLogging(cast(IO[Any], LoggingFile(Logger()))) is None


def test_startLoggingWithObserver(beginner: types.SimpleNamespace) -> None:
    seen: list[dict[str, Any]] = []
    log.startLoggingWithObserver(seen.append, setStdout=False)
    assert seen[-1]["message"] == ("Log opened.",)


def test_legacyWrapperProvidesILogObserver() -> None:
    from zope.interface.verify import verifyObject

    from torsion.logger import ILogObserver, LegacyLogObserverWrapper

    wrapper = LegacyLogObserverWrapper(print)
    assert verifyObject(ILogObserver, wrapper)
    assert wrapper == LegacyLogObserverWrapper(print)
    assert hash(wrapper) == hash(LegacyLogObserverWrapper(print))
    assert "print" in repr(wrapper)
    assert log.ILogObserver is ILogObserver


def test_logfileAndLogerr(newEvents: list[LogEvent]) -> None:
    print("to the log", file=log.logfile)
    log.logerr.write("bad\n")
    assert [
        (formatEvent(e), e["log_level"], e["log_namespace"]) for e in newEvents
    ] == [
        ("to the log", LogLevel.info, "stdout"),
        ("bad", LogLevel.error, "stderr"),
    ]
