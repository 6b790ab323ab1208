"""
Request and response bodies: ``readBody`` and ``FileBodyProducer``;
re-exported by ``torsion.web.client``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from zope.interface import implementer

from torsion.internet.defer import Deferred, succeed
from torsion.internet.protocol import Protocol, connectionDone
from torsion.internet.task import NotPaused, TaskDone
from torsion.python.failure import Failure
from torsion.web._newclient import (
    PotentialDataLoss,
    ResponseDone,
)
from torsion.web.iweb import (
    UNKNOWN_LENGTH,
    IBodyProducer,
)

# -- bodies ---------------------------------------------------------------------


class ResponseTooLarge(Exception):
    """
    A body longer than the maximum the reader accepts; the connection was
    closed.

    :ivar maxSize: that maximum.
    """

    def __init__(self, maxSize: int) -> None:
        Exception.__init__(self, f"the response body exceeds {maxSize} bytes")
        self.maxSize = maxSize


class PartialDownloadError(Exception):
    """
    The body ended with the connection and no length was given
    (``PotentialDataLoss``): it may be incomplete.

    :ivar response: the bytes received.
    """

    def __init__(self, status: bytes, message: str, response: bytes) -> None:
        Exception.__init__(self, status, message, response)
        self.status = status
        self.response = response


class _BodyCollector(Protocol):
    def __init__(
        self, status: int, result: Deferred[bytes], maxSize: int | None
    ) -> None:
        self._status = status
        self._result: Deferred[bytes] | None = result
        self._maxSize = maxSize
        self._pieces: list[bytes] = []
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        if self._result is None:
            return
        self._size += len(data)
        if self._maxSize is not None and self._size > self._maxSize:
            self._tooLarge()
            return
        self._pieces.append(data)

    def _tooLarge(self) -> None:
        result, self._result = self._result, None
        self._pieces = []
        if result is None:
            return
        assert self._maxSize is not None
        self.transport.stopProducing()
        result.errback(ResponseTooLarge(self._maxSize))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        result, self._result = self._result, None
        if result is None:
            return
        body = b"".join(self._pieces)
        if reason.check(ResponseDone):
            result.callback(body)
        elif reason.check(PotentialDataLoss):
            result.errback(
                PartialDownloadError(
                    str(self._status).encode("ascii"),
                    "the body may be incomplete (no length was given)",
                    body,
                )
            )
        else:
            result.errback(reason)


def readBody(response: Any, maxSize: int | None = None) -> Deferred[bytes]:
    """
    Read a response's whole body.

    :param response: an ``IResponse``.
    :param maxSize: the most bytes accepted; past it the read fails with
        ``ResponseTooLarge`` and the connection is closed.  ``None`` means no
        limit: give one for any server you do not control.
    :return: a Deferred with the body, or failing with ``ResponseFailed``,
        ``ResponseTooLarge`` or ``PartialDownloadError`` (body ended with the
        connection without a length; its ``response`` holds the bytes).
    """
    result: Deferred[bytes] = Deferred(
        lambda d: (
            collector.transport.stopProducing()
            if collector.transport is not None
            else None
        )
    )
    collector = _BodyCollector(response.code, result, maxSize)
    response.deliverBody(collector)
    length = getattr(response, "length", UNKNOWN_LENGTH)
    if (
        maxSize is not None
        and isinstance(length, int)
        and length > maxSize
        and not result.called
    ):
        # The server announced more than we accept: no need to read it.
        collector._tooLarge()
    return result


@implementer(IBodyProducer)
class FileBodyProducer:
    """
    Sends a file (or any binary file-like object) as a request body, a
    piece at a time, from the reactor's cooperator.

    The length is found by seeking to the end (and back) when the file is
    seekable; otherwise it is ``UNKNOWN_LENGTH`` and the body is sent
    chunked.  A seekable file's body can be sent again (for a retry or a
    307/308 redirect): it is read again from where it started.

    :param inputFile: the file, opened in binary mode (any object with a
        ``read(size)`` method returning bytes).
    :param cooperator: the ``torsion.internet.task.Cooperator`` to run on
        (the global one when ``None``).
    :param readSize: bytes read per step.
    """

    def __init__(
        self,
        inputFile: Any,
        cooperator: Any = None,
        readSize: int = 65536,
    ) -> None:
        self._inputFile = inputFile
        self._cooperator = cooperator
        self._readSize = readSize
        self._task: Any = None
        self._start: int | None = None
        self.length: int | str = self._determineLength(inputFile)

    def _determineLength(self, inputFile: Any) -> int | str:
        try:
            seekable = inputFile.seekable()
        except AttributeError:
            seekable = hasattr(inputFile, "seek") and hasattr(inputFile, "tell")
        except ValueError:
            return UNKNOWN_LENGTH
        if not seekable:
            return UNKNOWN_LENGTH
        try:
            start = inputFile.tell()
            end = inputFile.seek(0, os.SEEK_END)
            inputFile.seek(start, os.SEEK_SET)
        except (OSError, ValueError):
            return UNKNOWN_LENGTH
        self._start = start
        length: int = end - start
        return length

    def _replay(self) -> FileBodyProducer | None:
        if self._start is None:
            return None
        self._inputFile.seek(self._start, os.SEEK_SET)
        return FileBodyProducer(self._inputFile, self._cooperator, self._readSize)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        """
        Start writing the file to ``consumer``.

        :param consumer: an ``IConsumer``.
        :return: a Deferred firing when the whole file has been written.
        """
        cooperator = self._cooperator
        if cooperator is None:
            from torsion.internet import task

            self._task = task.cooperate(self._writeLoop(consumer))
        else:
            self._task = cooperator.cooperate(self._writeLoop(consumer))
        result: Deferred[None] = Deferred()
        done = self._task.whenDone()

        def finished(_: object) -> None:
            result.callback(None)

        def failed(reason: Failure) -> None:
            from torsion.internet.task import TaskStopped

            if reason.check(TaskStopped):
                return
            result.errback(reason)

        done.addCallbacks(finished, failed)
        return result

    def _writeLoop(self, consumer: Any) -> Iterator[None]:
        while True:
            data = self._inputFile.read(self._readSize)
            if not data:
                self._close()
                return
            consumer.write(data)
            yield None

    def _close(self) -> None:
        # A file that can be read again is left open for a replay (retry or
        # redirect); a stream is closed once read to its end.
        close = getattr(self._inputFile, "close", None)
        if self._start is None and close is not None:
            close()

    def pauseProducing(self) -> None:
        """
        Stop reading until ``resumeProducing``.
        """
        if self._task is not None:
            try:
                self._task.pause()
            except TaskDone:
                pass

    def resumeProducing(self) -> None:
        """
        Read again.
        """
        if self._task is not None:
            try:
                self._task.resume()
            except (TaskDone, NotPaused):
                pass

    def stopProducing(self) -> None:
        """
        Stop for good; the Deferred ``startProducing`` returned never fires.
        """
        if self._task is not None:
            try:
                self._task.stop()
            except TaskDone:
                pass


@implementer(IBodyProducer)
class _BytesProducer:
    """
    A body held in memory (the short API's ``data`` and ``json``).
    """

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self._body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass

    def _replay(self) -> _BytesProducer:
        return _BytesProducer(self._body)
