"""
Tests for torsion.logger: Logger, levels, publishing, filtering, formatting,
text files, the global beginner and LoggingFile.
"""

from __future__ import annotations

import io
import logging
import types
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from torsion.logger import (
    DEFAULT_HISTORY_SIZE,
    MAX_NAMESPACE_CACHE,
    FileLogObserver,
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    InvalidLogLevelError,
    LimitedHistoryLogObserver,
    LogBeginner,
    LogEvent,
    Logger,
    LoggingFile,
    LogLevel,
    LogLevelFilterPredicate,
    LogPublisher,
    PredicateResult,
    STDLibLogHandler,
    STDLibLogObserver,
    eventAsText,
    extractField,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    globalLogBeginner,
    globalLogPublisher,
    textFileLogObserver,
)
from torsion.python.failure import Failure


def collect() -> tuple[list[LogEvent], Logger]:
    events: list[LogEvent] = []
    return events, Logger(namespace="test", observer=events.append)


# -- levels ----------------------------------------------------------------


def test_levelsOrderedBySeverity() -> None:
    levels = list(LogLevel.iterconstants())
    assert [level.name for level in levels] == [
        "debug",
        "info",
        "warn",
        "error",
        "critical",
    ]
    assert levels == sorted(levels)
    assert LogLevel.warn < LogLevel.error
    assert LogLevel.critical >= LogLevel.critical
    assert not LogLevel.info > LogLevel.error


def test_levelWithName() -> None:
    assert LogLevel.levelWithName("warn") is LogLevel.warn
    with pytest.raises(InvalidLogLevelError, match="nope"):
        LogLevel.levelWithName("nope")


# -- Logger ----------------------------------------------------------------


def test_emitBuildsEvent() -> None:
    events, log = collect()
    log.info("Hello {name}", name="world")
    (event,) = events
    assert event["log_level"] is LogLevel.info
    assert event["log_namespace"] == "test"
    assert event["log_format"] == "Hello {name}"
    assert event["log_logger"] is log
    assert event["log_source"] is None
    assert isinstance(event["log_time"], float)
    assert event["name"] == "world"
    assert formatEvent(event) == "Hello world"


@pytest.mark.parametrize("level", list(LogLevel))
def test_levelMethods(level: LogLevel) -> None:
    events, log = collect()
    getattr(log, level.name)("x={x}", x=1)
    assert events[0]["log_level"] is level


def test_defaultNamespaceIsCallingModule() -> None:
    assert Logger().namespace == __name__


def test_defaultObserverIsGlobalPublisher() -> None:
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    try:
        Logger(namespace="global.test").info("via global")
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert [formatEvent(e) for e in events] == ["via global"]


class Thing:
    log = Logger()
    explicit = Logger(namespace="chosen")


def test_descriptorBindsSource() -> None:
    thing = Thing()
    assert thing.log.source is thing
    assert thing.log.namespace == f"{__name__}.Thing"
    assert Thing.log.source is Thing
    assert thing.explicit.namespace == "chosen"


def test_invalidLevelLogsFailure() -> None:
    events, log = collect()
    log.emit("loud", "hello")  # type: ignore[arg-type]
    (event,) = events
    assert event["log_level"] is LogLevel.critical
    assert event["log_failure"].check(InvalidLogLevelError)
    assert "invalid log level 'loud'" in formatEvent(event)


def test_failureCapturesCurrentException() -> None:
    events, log = collect()
    try:
        raise ValueError("bad thing")
    except ValueError:
        log.failure("While doing {what}", what="stuff")
    (event,) = events
    assert event["log_level"] is LogLevel.critical
    assert isinstance(event["log_failure"], Failure)
    assert event["log_failure"].check(ValueError)
    text = eventAsText(event, includeTimestamp=False)
    assert text.startswith("[test#critical] While doing stuff\n")
    assert "ValueError: bad thing" in text


def test_failureExplicitAndLevel() -> None:
    events, log = collect()
    failure = Failure(KeyError("k"))
    log.failure("oops", failure, level=LogLevel.error, extra=1)
    assert events[0]["log_failure"] is failure
    assert events[0]["log_level"] is LogLevel.error
    assert events[0]["extra"] == 1


def test_failuresHandledSuccess() -> None:
    events, log = collect()
    with log.failuresHandled("never") as op:
        pass
    assert op.succeeded and not op.failed and op.failure is None
    assert events == []


def test_failuresHandledFailure() -> None:
    events, log = collect()
    with log.failuresHandled("saving {name}", name="n") as op:
        raise RuntimeError("disk full")
    assert op.failed and not op.succeeded
    assert op.failure.check(RuntimeError)
    (event,) = events
    assert formatEvent(event) == "saving n"
    assert event["log_failure"] is op.failure


def test_failuresHandledLetsKeyboardInterruptThrough() -> None:
    events, log = collect()
    with pytest.raises(KeyboardInterrupt), log.failuresHandled("x"):
        raise KeyboardInterrupt()
    assert events == []


def test_failureHandler() -> None:
    events, log = collect()
    with log.failureHandler("handled", level=LogLevel.warn):
        raise OSError("x")
    assert events[0]["log_level"] is LogLevel.warn


def test_logTrace() -> None:
    events: list[LogEvent] = []
    publisher = LogPublisher(events.append)
    log = Logger(namespace="t", observer=publisher)
    trace: list[Any] = []
    log.info("traced", log_trace=trace)
    assert (log, publisher) in trace
    assert (publisher, events.append) in trace


# -- LogPublisher -------------------------------------------------------------


def test_publisherFansOut() -> None:
    a: list[LogEvent] = []
    b: list[LogEvent] = []
    publisher = LogPublisher(a.append)
    publisher.addObserver(b.append)
    publisher.addObserver(b.append)
    event = {"log_format": "x"}
    publisher(event)
    assert a == [event] and b == [event]
    assert publisher.observers == [a.append, b.append]
    publisher.removeObserver(a.append)
    publisher.removeObserver(a.append)
    publisher({"n": 2})
    assert len(a) == 1 and len(b) == 2


def test_publisherRejectsNonCallable() -> None:
    with pytest.raises(TypeError):
        LogPublisher().addObserver(3)  # type: ignore[arg-type]


def test_brokenObserverReportedToOthersAndKept() -> None:
    seen: list[LogEvent] = []
    calls = []

    def broken(event: LogEvent) -> None:
        calls.append(event)
        raise ZeroDivisionError("observer bug")

    publisher = LogPublisher(broken, seen.append)
    publisher({"log_format": "first", "log_level": LogLevel.info})
    assert formatEvent(seen[0]) == "first"
    report = seen[1]
    assert report["log_failure"].check(ZeroDivisionError)
    assert report["log_level"] is LogLevel.critical
    assert report["observer"] is broken
    assert len(calls) == 1  # the report does not go to the broken observer
    publisher({"log_format": "second"})
    assert len(calls) == 2


def test_allObserversBrokenDoesNotRaise() -> None:
    def broken(event: LogEvent) -> None:
        raise ValueError()

    def dividing(event: LogEvent) -> None:
        _ = 1 / 0

    publisher = LogPublisher(broken, broken, dividing)
    publisher({"log_format": "x"})


def test_verifyObservers() -> None:
    for observer in [
        LogPublisher(),
        FileLogObserver(io.StringIO(), lambda e: None),
        FilteringLogObserver(lambda e: None, []),
        LimitedHistoryLogObserver(),
        STDLibLogObserver(),
    ]:
        assert verifyObject(ILogObserver, observer)
    assert verifyObject(ILogFilterPredicate, LogLevelFilterPredicate())


# -- formatting -------------------------------------------------------------------


def test_formatEventFields() -> None:
    class Peer:
        host = "h"

        def describe(self) -> str:
            return "peer!"

    event = {
        "log_format": "{p.host} {p.describe()} {d[k]} {n:03d} {s!r} {{lit}}",
        "p": Peer(),
        "d": {"k": "v"},
        "n": 7,
        "s": "q",
    }
    assert formatEvent(event) == "h peer! v 007 'q' {lit}"


def test_formatEventNoFormat() -> None:
    assert formatEvent({}) == ""
    assert formatEvent({"log_format": None}) == ""
    assert formatEvent({"log_format": b"bytes {x}", "x": 1}) == "bytes 1"


@pytest.mark.parametrize(
    "event",
    [
        {"log_format": "{missing}"},
        {"log_format": "{}"},
        {"log_format": "{x:d}", "x": "notint"},
        {"log_format": "{unclosed"},
        {"log_format": 42},
        {"log_format": "{f()}", "f": lambda: 1 / 0},
    ],
)
def test_formatEventUnformattable(event: LogEvent) -> None:
    assert formatEvent(event).startswith("Unable to format event ")


def test_formatEventUnformattableWithBrokenRepr() -> None:
    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

        def __format__(self, spec: str) -> str:
            raise RuntimeError("no format")

    text = formatEvent({"log_format": "{x}", "x": BadRepr()})
    assert text.startswith("Unable to format event ")
    assert "no repr" in text


@given(st.text(), st.dictionaries(st.text(min_size=1), st.integers()))
def test_formatEventNeverRaises(fmt: str, fields: dict[str, int]) -> None:
    event: LogEvent = dict(fields)
    event["log_format"] = fmt
    assert isinstance(formatEvent(event), str)


def test_formatTime() -> None:
    assert formatTime(None) == "-"
    assert formatTime(0.0, None) == "-"
    assert formatTime(None, default="?") == "?"
    text = formatTime(0.0)
    assert text[4] == "-" and "T" in text and text[-5] in "+-"
    assert formatTime(86400 * 365.25 * 30, "%Y") in ("1999", "2000")
    assert formatTime(1e300) == "-"


def test_eventAsTextParts() -> None:
    event = {
        "log_format": "hi",
        "log_namespace": "ns",
        "log_level": LogLevel.warn,
        "log_time": 0.0,
    }
    assert eventAsText(event, includeTimestamp=False) == "[ns#warn] hi"
    assert eventAsText(event, includeSystem=False, includeTimestamp=False) == "hi"
    assert eventAsText({**event, "log_system": "sys"}, includeTimestamp=False) == (
        "[sys] hi"
    )
    assert eventAsText(event, formatTime=lambda t: "T") == "T [ns#warn] hi"
    assert eventAsText({"log_namespace": "x"}) == ""


def test_eventAsTextBrokenFailure() -> None:
    class NotAFailure:
        def getTraceback(self) -> str:
            raise RuntimeError("nope")

    text = eventAsText({"log_format": "x", "log_failure": NotAFailure()})
    assert "(UNABLE TO OBTAIN TRACEBACK FROM EVENT)" in text


def test_classicLogText() -> None:
    event = {
        "log_format": "line one\nline two",
        "log_namespace": "ns",
        "log_level": LogLevel.info,
        "log_time": 0.0,
    }
    text = formatEventAsClassicLogText(event, formatTime=lambda t: "TIME")
    assert text == "TIME [ns#info] line one\n\tline two\n"
    assert formatEventAsClassicLogText({"log_format": None}) is None


def test_extractField() -> None:
    event = {"a": {"b": [1, 2]}, "o": types.SimpleNamespace(x=5)}
    assert extractField("a[b]", event) == [1, 2]
    assert extractField("o.x", event) == 5
    with pytest.raises(KeyError):
        extractField("missing", event)
    with pytest.raises(KeyError):
        extractField("o.y", event)


# -- files -----------------------------------------------------------------


def test_textFileLogObserver() -> None:
    out = io.StringIO()
    observer = textFileLogObserver(out, timeFormat=None)
    log = Logger(namespace="app", observer=observer)
    log.info("started on {port}", port=80)
    log.info(None, data="no text")
    assert out.getvalue() == "- [app#info] started on 80\n"


def test_textFileLogObserverTimestamp() -> None:
    out = io.StringIO()
    observer = textFileLogObserver(out, timeFormat="%Y")
    observer({"log_format": "x", "log_time": 0.0, "log_system": "s"})
    assert out.getvalue() in ("1970 [s] x\n", "1969 [s] x\n")


def test_fileLogObserverFlushes() -> None:
    class Out:
        def __init__(self) -> None:
            self.written: list[str] = []
            self.flushes = 0

        def write(self, s: str) -> None:
            self.written.append(s)

        def flush(self) -> None:
            self.flushes += 1

    out = Out()
    observer = FileLogObserver(out, lambda e: "text")  # type: ignore[arg-type]
    observer({})
    assert out.written == ["text"] and out.flushes == 1


# -- filtering -----------------------------------------------------------------


def test_levelFilterPredicate() -> None:
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)
    predicate.setLogLevelForNamespace("a.b", LogLevel.debug)
    predicate.setLogLevelForNamespace("a", LogLevel.error)
    assert predicate.logLevelForNamespace("a.b.c") is LogLevel.debug
    assert predicate.logLevelForNamespace("a.x") is LogLevel.error
    assert predicate.logLevelForNamespace("other") is LogLevel.warn
    assert predicate.logLevelForNamespace(None) is LogLevel.warn

    def ev(ns: str, level: LogLevel) -> LogEvent:
        return {"log_namespace": ns, "log_level": level}

    assert predicate(ev("a.b.c", LogLevel.debug)) is PredicateResult.maybe
    assert predicate(ev("a.x", LogLevel.warn)) is PredicateResult.no
    assert predicate(ev("a.x", LogLevel.error)) is PredicateResult.maybe
    assert predicate(ev("z", LogLevel.info)) is PredicateResult.no
    assert predicate({"log_level": LogLevel.critical}) is PredicateResult.no
    assert predicate({"log_namespace": "x"}) is PredicateResult.no
    predicate.clearLogLevels()
    assert predicate.logLevelForNamespace("a.b") is LogLevel.warn
    predicate.setLogLevelForNamespace("", LogLevel.debug)
    assert predicate.defaultLogLevel is LogLevel.debug
    with pytest.raises(InvalidLogLevelError):
        predicate.setLogLevelForNamespace("a", "loud")  # type: ignore[arg-type]


def test_levelFilterCacheFollowsChanges() -> None:
    predicate = LogLevelFilterPredicate()
    assert predicate.logLevelForNamespace("a.b") is LogLevel.info
    predicate.setLogLevelForNamespace("a", LogLevel.error)
    assert predicate.logLevelForNamespace("a.b") is LogLevel.error
    predicate.clearLogLevels()
    assert predicate.logLevelForNamespace("a.b") is LogLevel.info
    predicate.defaultLogLevel = LogLevel.warn
    assert predicate.logLevelForNamespace("a.b") is LogLevel.warn
    with pytest.raises(InvalidLogLevelError):
        predicate.defaultLogLevel = 3  # type: ignore[assignment]


def test_levelFilterCacheIsBounded() -> None:
    predicate = LogLevelFilterPredicate()
    predicate.setLogLevelForNamespace("x", LogLevel.debug)
    for i in range(MAX_NAMESPACE_CACHE + 10):
        predicate.logLevelForNamespace(f"x.n{i}")
    assert len(predicate._cache) <= MAX_NAMESPACE_CACHE
    assert predicate.logLevelForNamespace("x.n0") is LogLevel.debug


def test_filteringLogObserver() -> None:
    accepted: list[LogEvent] = []
    rejected: list[LogEvent] = []

    def isYes(event: LogEvent) -> PredicateResult:
        return PredicateResult.yes if event.get("yes") else PredicateResult.maybe

    observer = FilteringLogObserver(
        accepted.append,
        [isYes, LogLevelFilterPredicate(LogLevel.warn)],
        rejected.append,
    )
    log = Logger(namespace="f", observer=observer)
    log.info("dropped")
    log.info("forced", yes=True)
    log.error("kept")
    assert [formatEvent(e) for e in accepted] == ["forced", "kept"]
    assert [formatEvent(e) for e in rejected] == ["dropped"]


def test_filteringNoPredicatesForwards() -> None:
    accepted: list[LogEvent] = []
    FilteringLogObserver(accepted.append, [])({"x": 1})
    assert accepted == [{"x": 1}]


# -- history / beginner ----------------------------------------------------------


def test_limitedHistory() -> None:
    history = LimitedHistoryLogObserver(size=3)
    for i in range(5):
        history({"i": i})
    assert len(history) == 3
    replayed: list[LogEvent] = []
    history.replayTo(replayed.append)
    assert [e["i"] for e in replayed] == [2, 3, 4]
    assert LimitedHistoryLogObserver().size == DEFAULT_HISTORY_SIZE
    with pytest.raises(ValueError):
        LimitedHistoryLogObserver(0)
    assert len(LimitedHistoryLogObserver(1)) == 0


class FakeWarnings:
    def showwarning(self, *args: Any, **kw: Any) -> None:
        raise AssertionError("not redirected")


def makeBeginner(
    bufferSize: int | None = None,
) -> tuple[LogBeginner, LogPublisher, io.StringIO, types.SimpleNamespace, Any]:
    publisher = LogPublisher()
    errors = io.StringIO()
    stdio = types.SimpleNamespace(stdout=io.StringIO(), stderr=io.StringIO())
    fakeWarnings = FakeWarnings()
    beginner = LogBeginner(publisher, errors, stdio, fakeWarnings, bufferSize)
    return beginner, publisher, errors, stdio, fakeWarnings


def test_beginnerBuffersAndReplays() -> None:
    beginner, publisher, errors, _stdio, _ = makeBeginner()
    log = Logger(namespace="early", observer=publisher)
    log.info("before")
    log.critical("fatal before")
    assert "fatal before" in errors.getvalue()
    assert "before\n" not in errors.getvalue().replace("fatal before", "")
    seen: list[LogEvent] = []
    beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
    log.info("after")
    assert [formatEvent(e) for e in seen] == ["before", "fatal before", "after"]
    errorsBefore = errors.getvalue()
    log.critical("fatal after")
    assert errors.getvalue() == errorsBefore


def test_beginnerBufferIsBounded() -> None:
    beginner, publisher, _, _, _ = makeBeginner(bufferSize=2)
    log = Logger(namespace="early", observer=publisher)
    for i in range(5):
        log.info("{i}", i=i)
    seen: list[LogEvent] = []
    beginner.beginLoggingTo([seen.append], redirectStandardIO=False)
    assert [formatEvent(e) for e in seen] == ["3", "4"]


def test_beginnerDiscardBuffer() -> None:
    beginner, publisher, _, _, _ = makeBeginner()
    Logger(namespace="x", observer=publisher).info("before")
    seen: list[LogEvent] = []
    beginner.beginLoggingTo([seen.append], discardBuffer=True, redirectStandardIO=False)
    assert seen == []


def test_beginnerTwiceWarns() -> None:
    beginner, _publisher, _, _, _ = makeBeginner()
    first: list[LogEvent] = []
    second: list[LogEvent] = []
    beginner.beginLoggingTo([first.append], redirectStandardIO=False)
    beginner.beginLoggingTo([second.append], redirectStandardIO=False)
    (warning,) = [e for e in first if e["log_level"] is LogLevel.warn]
    assert "primary log target selected twice" in formatEvent(warning)
    assert __file__ in formatEvent(warning)
    assert warning in second


def test_beginnerRedirectsStandardIO() -> None:
    beginner, _publisher, _, stdio, fakeWarnings = makeBeginner()
    seen: list[LogEvent] = []
    beginner.beginLoggingTo([seen.append])
    assert isinstance(stdio.stdout, LoggingFile)
    assert isinstance(stdio.stderr, LoggingFile)
    print("printed", file=stdio.stdout)
    stdio.stderr.write("oh no\n")
    fakeWarnings.showwarning(DeprecationWarning("old"), DeprecationWarning, "f.py", 3)
    out = io.StringIO()
    fakeWarnings.showwarning(UserWarning("to file"), UserWarning, "g.py", 4, out)
    assert [(formatEvent(e), e["log_level"], e["log_namespace"]) for e in seen] == [
        ("printed", LogLevel.info, "stdout"),
        ("oh no", LogLevel.error, "stderr"),
        (
            "f.py:3: builtins.DeprecationWarning: old",
            LogLevel.warn,
            "torsion.logger.globalLogBeginner",
        ),
    ]
    assert "g.py:4: UserWarning: to file" in out.getvalue()


def test_globalBeginnerExists() -> None:
    assert isinstance(globalLogBeginner, LogBeginner)


# -- LoggingFile -----------------------------------------------------------


def test_loggingFileLines() -> None:
    events, log = collect()
    f = LoggingFile(log, LogLevel.warn)
    assert f.write("a\nb") == 3
    f.write("c\n\n")
    f.writelines(["d\n", b"\xc3\xa9\n"])
    assert [(formatEvent(e), e["log_level"]) for e in events] == [
        ("a", LogLevel.warn),
        ("bc", LogLevel.warn),
        ("", LogLevel.warn),
        ("d", LogLevel.warn),
        ("\xe9", LogLevel.warn),
    ]
    assert f.encoding == "utf-8"
    assert not f.isatty()
    assert f.name == "<LoggingFile test#warn>"
    with pytest.raises(OSError):
        f.fileno()


def test_loggingFileMaxLine() -> None:
    events, log = collect()
    f = LoggingFile(log, maxLineLength=4)
    f.write("abcd")
    assert events == []
    f.write("e")
    assert [formatEvent(e) for e in events] == ["abcd"]
    f.write("fghij\n")
    assert [formatEvent(e) for e in events] == ["abcd", "efghij"]
    f.write("klmnopqrs")
    assert [formatEvent(e) for e in events][2:] == ["klmn", "opqr"]


def test_loggingFileClose() -> None:
    events, log = collect()
    f = LoggingFile(log)
    f.write("partial")
    f.close()
    f.close()
    assert [formatEvent(e) for e in events] == ["partial"]
    assert f.closed and not f.writable()
    with pytest.raises(ValueError):
        f.write("more")


# -- stdlib bridges ----------------------------------------------------------------


@pytest.fixture
def stdlibLogger() -> Any:
    logger = logging.getLogger("torsion.test.stdlib")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, records
    logger.removeHandler(handler)


def test_stdlibObserver(stdlibLogger: Any) -> None:
    _logger, records = stdlibLogger
    observer = STDLibLogObserver(name="torsion.test.stdlib")
    log = Logger(namespace="x", observer=observer)
    log.warn("careful {what}", what="now")
    try:
        raise KeyError("k")
    except KeyError:
        log.failure("broke")
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.WARNING, "careful now"),
        (logging.CRITICAL, "broke"),
    ]
    assert records[1].exc_info is not None and records[1].exc_info[0] is KeyError


def test_stdlibHandler(stdlibLogger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    logger, _records = stdlibLogger
    seen: list[LogEvent] = []
    handler = STDLibLogHandler(observer=seen.append)
    logger.addHandler(handler)
    # The malformed record below must not trip other handlers that may see
    # it (pytest's capture handler re-raises format errors when stdlib
    # logging is told to raise them); only torsion's handler is under test.
    monkeypatch.setattr(logging, "raiseExceptions", False)
    try:
        logger.info("hello %s", "there")
        logger.log(35, "custom level")
        logger.debug("bad %d", "args")
        try:
            raise OSError("disk")
        except OSError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert [(formatEvent(e), e["log_level"], e["log_namespace"]) for e in seen[:2]] == [
        ("hello there", LogLevel.info, "torsion.test.stdlib"),
        ("custom level", LogLevel.warn, "torsion.test.stdlib"),
    ]
    assert formatEvent(seen[2]).startswith("Unable to format log record")
    assert seen[3]["log_level"] is LogLevel.error
    assert seen[3]["log_failure"].check(OSError)


def test_stdlibBridgesDoNotLoop(stdlibLogger: Any) -> None:
    logger, records = stdlibLogger
    publisher = LogPublisher()
    seen: list[LogEvent] = []
    publisher.addObserver(seen.append)
    publisher.addObserver(STDLibLogObserver(name="torsion.test.stdlib"))
    handler = STDLibLogHandler(observer=publisher)
    logger.addHandler(handler)
    try:
        Logger(namespace="n", observer=publisher).info("from torsion")
        logger.info("from stdlib")
    finally:
        logger.removeHandler(handler)
    assert [formatEvent(e) for e in seen] == ["from torsion", "from stdlib"]
    assert [r.getMessage() for r in records] == ["from torsion", "from stdlib"]


def test_stdlibHandlerDefaultsToGlobal() -> None:
    seen: list[LogEvent] = []
    globalLogPublisher.addObserver(seen.append)
    try:
        record = logging.LogRecord("lib", logging.ERROR, "f", 1, "m", None, None)
        STDLibLogHandler().handle(record)
    finally:
        globalLogPublisher.removeObserver(seen.append)
    assert [formatEvent(e) for e in seen] == ["m"]


def test_loggingFileDropsTextWrittenByItsObservers() -> None:
    events: list[LogEvent] = []
    holder: list[LoggingFile] = []

    def printingObserver(event: LogEvent) -> None:
        events.append(event)
        holder[0].write("echo: " + formatEvent(event) + "\n")

    f = LoggingFile(Logger(namespace="stdout", observer=printingObserver))
    holder.append(f)
    f.write("one\ntwo\n")
    assert [formatEvent(e) for e in events] == ["one", "two"]


def test_earlyCriticalGoesToCurrentStderr(capsys: pytest.CaptureFixture[str]) -> None:
    # The global beginner writes early critical events to whatever
    # sys.stderr is at the time (pytest's capture, here), not the stream
    # that existed at import.
    from torsion.logger._global import _CurrentStandardError

    publisher = LogPublisher()
    LogBeginner(publisher, _CurrentStandardError(), types.SimpleNamespace(), None)  # type: ignore[arg-type]
    Logger(namespace="early.test", observer=publisher).critical("the sky is falling")
    Logger(namespace="early.test", observer=publisher).error("not shown")
    err = capsys.readouterr().err
    assert err == "[early.test#critical] the sky is falling\n"


def test_publicNamesDocumented() -> None:
    import torsion.logger as logger
    from torsion.python import components, log, reflect, usage

    for module in (logger, log, components, usage, reflect):
        assert module.__doc__
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, type(LogEvent)):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"


def test_formatTimeSameSecondCacheIsExact() -> None:
    # Times on either side of a second boundary, in any order, render as
    # their own seconds.
    for when in (-0.5, 0.5, -0.5, 59.9, 60.0, 59.9):
        expected = datetime.fromtimestamp(when).astimezone().strftime("%S")
        assert formatTime(when, "%S") == expected
    assert formatTime(1.25, "%S.%f").endswith(".250000")
    assert formatTime(1.5, "%S.%f").endswith(".500000")
