"""
The server side of the finger protocol (RFC 1288).

A client connects, sends one query line and reads the answer until the
server closes.  ``Finger`` parses the query and calls an overridable method:

* ``getDomain(slash_w)`` for an empty query (the list of users);
* ``getUser(slash_w, user)`` for ``user``;
* ``forwardQuery(slash_w, user, host)`` for ``user@host`` (forwarding).

``slash_w`` is true when the query started with the ``/W`` token (verbose
output requested).  Each method answers by default with a refusal: override
the ones you serve, writing to ``self.transport`` and closing.

Line endings (SECURITY.md LINE-5): a query ends at ``b"\\n"``; a ``b"\\r"``
just before it is dropped, and a bare ``b"\\r"`` elsewhere counts as
whitespace between tokens.  Queries longer than ``MAX_LENGTH`` bytes are
refused.  Only the first query of a connection is answered.
"""

from __future__ import annotations

from torsion.protocols import basic

__all__ = ["Finger"]


class Finger(basic.LineReceiver):
    """
    A finger server that refuses every query; subclass it and override
    ``getUser``, ``getDomain`` or ``forwardQuery`` to answer.

    :ivar MAX_LENGTH: the longest query accepted, in bytes.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1024
    _answered = False

    def lineReceived(self, line: bytes) -> None:
        """
        Parse one query and dispatch it.

        :param line: the query, without its line ending.
        """
        if self._answered:
            return
        self._answered = True
        if line.endswith(b"\r"):
            line = line[:-1]
        parts = line.split()
        slash_w = False
        if parts and parts[0].upper() == b"/W":
            slash_w = True
            parts = parts[1:]
        if len(parts) > 1:
            self._refuseMessage(b"Invalid query")
            return
        user = parts[0] if parts else b""
        if b"@" in user:
            # user@host1@host2 forwards "user@host1" to host2.
            at = user.rfind(b"@")
            self.forwardQuery(slash_w, user[:at], user[at + 1 :])
        elif user:
            self.getUser(slash_w, user)
        else:
            self.getDomain(slash_w)

    def lineLengthExceeded(self, line: bytes) -> None:
        """
        Refuse an overlong query.

        :param line: the start of the query.
        """
        if not self._answered:
            self._answered = True
            self._refuseMessage(b"Query too long")

    def _refuseMessage(self, message: bytes) -> None:
        """
        Send ``message`` as one line and close the connection.

        :param message: the text to send, without line ending.
        """
        self.transport.write(message + b"\r\n")
        self.transport.loseConnection()

    def forwardQuery(self, slash_w: bool, user: bytes, host: bytes) -> None:
        """
        Answer a query to forward to another host.  By default, refuse:
        forwarding is off unless you override this (RFC 1288 section 3.2.1
        advises against it).

        :param slash_w: whether verbose output was asked for.
        :param user: the query to forward, which may itself contain ``@``.
        :param host: the host to forward it to.
        """
        self._refuseMessage(b"Finger forwarding service denied")

    def getDomain(self, slash_w: bool) -> None:
        """
        Answer an empty query (list the users).  By default, refuse.

        :param slash_w: whether verbose output was asked for.
        """
        self._refuseMessage(b"Finger online list denied")

    def getUser(self, slash_w: bool, user: bytes) -> None:
        """
        Answer a query about ``user``.  By default, say there is no such
        user.

        :param slash_w: whether verbose output was asked for.
        :param user: the user name, as sent.
        """
        self._refuseMessage(b"Login: " + user + b"\r\nNo such user")
