"""
Structured logging.

Code emits events through a ``Logger``; events are dictionaries carrying a
format string and the data it refers to; observers (any callable taking an
event) decide what to do with them: write text or JSON to a file, filter by
level, forward to the standard library's ``logging``.  A program starts its
logging once with ``globalLogBeginner.beginLoggingTo([...])``::

    import sys
    from torsion.logger import Logger, globalLogBeginner, textFileLogObserver

    log = Logger()
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    log.info("Listening on port {port}", port=8080)
"""

from ._buffer import DEFAULT_HISTORY_SIZE, LimitedHistoryLogObserver
from ._file import FileLogObserver, textFileLogObserver
from ._filter import (
    MAX_NAMESPACE_CACHE,
    FilteringLogObserver,
    ILogFilterPredicate,
    LogLevelFilterPredicate,
    PredicateResult,
)
from ._flatten import extractField, flattenEvent, formatWithCall
from ._format import (
    eventAsText,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
    formatUnformattableEvent,
    timeFormatRFC3339,
)
from ._global import (
    DEFAULT_INITIAL_BUFFER_SIZE,
    LogBeginner,
    globalLogBeginner,
    globalLogPublisher,
)
from ._interfaces import ILogObserver, LogEvent, LogTrace
from ._io import MAX_LOGGING_FILE_LINE, LoggingFile
from ._json import (
    MAX_JSON_RECORD_SIZE,
    eventAsJSON,
    eventFromJSON,
    eventsFromJSONLogFile,
    jsonFileLogObserver,
)
from ._legacy import LegacyLogObserverWrapper, publishToNewObserver
from ._levels import InvalidLogLevelError, LogLevel
from ._logger import Logger, Operation
from ._observer import LogPublisher
from ._stdlib import (
    STDLibLogHandler,
    STDLibLogObserver,
    fromStdlibLogLevel,
    toStdlibLogLevelMapping,
)

__all__ = [
    "DEFAULT_HISTORY_SIZE",
    "DEFAULT_INITIAL_BUFFER_SIZE",
    "MAX_JSON_RECORD_SIZE",
    "MAX_LOGGING_FILE_LINE",
    "MAX_NAMESPACE_CACHE",
    "FileLogObserver",
    "FilteringLogObserver",
    "ILogFilterPredicate",
    "ILogObserver",
    "InvalidLogLevelError",
    "LegacyLogObserverWrapper",
    "LimitedHistoryLogObserver",
    "LogBeginner",
    "LogEvent",
    "LogLevel",
    "LogLevelFilterPredicate",
    "LogPublisher",
    "LogTrace",
    "Logger",
    "LoggingFile",
    "Operation",
    "PredicateResult",
    "STDLibLogHandler",
    "STDLibLogObserver",
    "eventAsJSON",
    "eventAsText",
    "eventFromJSON",
    "eventsFromJSONLogFile",
    "extractField",
    "flattenEvent",
    "formatEvent",
    "formatEventAsClassicLogText",
    "formatTime",
    "formatUnformattableEvent",
    "formatWithCall",
    "fromStdlibLogLevel",
    "globalLogBeginner",
    "globalLogPublisher",
    "jsonFileLogObserver",
    "publishToNewObserver",
    "textFileLogObserver",
    "timeFormatRFC3339",
    "toStdlibLogLevelMapping",
]
