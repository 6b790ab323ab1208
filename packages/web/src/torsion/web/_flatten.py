"""
Turning a document (tags, text, slots, Deferreds, renderable elements, ...)
into UTF-8 bytes.

``flatten`` and ``flattenString`` are re-exported from
``torsion.web.template``; import them from there.

The flattener walks the tree with an explicit stack of iterators, never by
recursion, so documents nest as deep as memory allows; synchronous content
is written without creating any Deferred, and output is gathered into a list
and handed to ``write`` in large pieces.
"""

from __future__ import annotations

import re
import traceback as _traceback_module
from collections.abc import Callable, Iterator
from types import CoroutineType, GeneratorType, TracebackType
from typing import Any

from torsion.internet.defer import Deferred
from torsion.python.failure import Failure
from torsion.web._stan import (
    CDATA,
    VALID_HTML_TAG_NAMES,
    VOID_ELEMENTS,
    CharRef,
    Comment,
    Flattenable,
    Tag,
    raw,
    slot,
)
from torsion.web.iweb import IRenderable, IRequest

__all__ = [
    "FlattenerError",
    "UnfilledSlot",
    "UnsupportedType",
    "attributeEscapingDoneOutside",
    "escapeForContent",
    "flatten",
    "flattenString",
]

#: Pieces gathered before ``flatten`` passes them to ``write`` in one call.
FLUSH_PIECES = 2048

#: How many of the outermost and innermost elements a ``FlattenerError``'s
#: message lists when the document is nested deeper than that.
ROOTS_SHOWN = 20


class UnsupportedType(Exception):
    """
    Something in the document is not flattenable (for example ``None`` or a
    number: convert it to ``str`` first).  It reaches the caller wrapped in a
    ``FlattenerError``.
    """


class UnfilledSlot(Exception):
    """
    A slot without a default was not filled by any enclosing tag.  It reaches
    the caller wrapped in a ``FlattenerError``.
    """


class FlattenerError(Exception):
    """
    Flattening failed.  The message names the exception and where in the
    document it happened: the enclosing tags, outermost first, with the
    template file, line and column they came from.

    :ivar exception: the exception raised while flattening.
    :ivar roots: the elements being flattened when it happened, outermost
        first.
    :ivar traceback: the exception's traceback, as extracted frames.
    """

    def __init__(
        self,
        exception: BaseException,
        roots: list[object],
        traceback: list[_traceback_module.FrameSummary],
    ) -> None:
        """
        :param exception: the exception raised while flattening.
        :param roots: the elements being flattened, outermost first.
        :param traceback: the exception's traceback frames.
        """
        self.exception = exception
        self.roots = roots
        self.traceback = traceback
        # The names Twisted's FlattenerError keeps them under.
        self._exception = exception
        self._roots = roots
        self._traceback = traceback
        super().__init__(exception, roots, traceback)

    def __str__(self) -> str:
        lines = ["Exception while flattening:"]
        roots = self.roots
        if len(roots) > 2 * ROOTS_SHOWN:
            shown = [_describeRoot(r) for r in roots[:ROOTS_SHOWN]]
            shown.append(f"... {len(roots) - 2 * ROOTS_SHOWN} more ...")
            shown.extend(_describeRoot(r) for r in roots[-ROOTS_SHOWN:])
        else:
            shown = [_describeRoot(r) for r in roots]
        lines.extend("  " + line for line in shown)
        # The flattener's own frames say nothing about the document.
        userFrames = [f for f in self.traceback if f.filename != __file__]
        for frame in userFrames[-3:]:
            lines.append(
                f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
            )
        lines.append(f"{type(self.exception).__name__}: {self.exception}")
        return "\n".join(lines)

    __repr__ = __str__


def _location(
    filename: str | None, lineNumber: int | None, columnNumber: int | None
) -> str:
    if filename is None and lineNumber is None:
        return ""
    return f' (File "{filename}", line {lineNumber}, column {columnNumber})'


def _describeRoot(root: object) -> str:
    """
    One line of a ``FlattenerError`` message.
    """
    if isinstance(root, Tag):
        name = root.tagName or "t:transparent"
        render = f' t:render="{root.render}"' if root.render is not None else ""
        where = _location(root.filename, root.lineNumber, root.columnNumber)
        return f"<{name}{render}>{where}"
    if isinstance(root, slot):
        where = _location(root.filename, root.lineNumber, root.columnNumber)
        return f"<t:slot name={root.name!r}>{where}"
    if IRenderable.providedBy(root):
        return f"{type(root).__qualname__} (rendered)"
    text = repr(root)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


def escapeForContent(data: str | bytes) -> bytes:
    """
    Escape text for an element's content: ``&``, ``<`` and ``>`` become
    character references.

    :param data: text, or UTF-8 bytes.
    :return: the escaped UTF-8 bytes.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")


def _escapeAttribute(data: bytes) -> bytes:
    return (
        data.replace(b"&", b"&amp;")
        .replace(b"<", b"&lt;")
        .replace(b">", b"&gt;")
        .replace(b'"', b"&quot;")
    )


def attributeEscapingDoneOutside(data: str | bytes) -> bytes:
    """
    Encode text that is part of an attribute value whose whole flattened
    form is escaped afterwards (so it is not escaped here).

    :param data: text, or UTF-8 bytes.
    :return: UTF-8 bytes.
    """
    if isinstance(data, str):
        return data.encode("utf-8")
    return data


def _escapeComment(text: str) -> bytes:
    """
    Make text safe inside ``<!--...-->``: HTML forbids ``--`` in it (which
    covers ``-->`` and ``--!>``), a leading ``>`` or ``->``, and a trailing
    ``-`` (which would merge into the end marker).
    """
    while "--" in text:
        text = text.replace("--", "- -")
    if text.startswith((">", "->")):
        text = " " + text
    if text.endswith("-"):
        text = text + " "
    return text.encode("utf-8")


def _escapeCDATA(text: str) -> bytes:
    """
    ``]]>`` ends a CDATA section: split it across two sections.
    """
    return text.replace("]]>", "]]]]><![CDATA[>").encode("utf-8")


def _checkUTF8(data: bytes) -> bytes:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnicodeDecodeError(
            e.encoding,
            e.object,
            e.start,
            e.end,
            "bytes given to the flattener must be UTF-8",
        ) from None
    return data


class _Markup:
    """
    Markup the flattener generated itself (a start tag with complex
    attributes), written unescaped into the current output.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Attribute:
    """
    An attribute whose value needs the general flattener (slots, tags,
    Deferreds, ...): its output is gathered, then escaped as a whole.
    """

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = value


# Characters that would end or break a tag or attribute name, letting a name
# inject markup: whitespace, quotes, ``>``, ``/``, ``=``, ``<``, ``&`` and
# control characters.
_BAD_NAME = re.compile(r"[\s\"'>/=<&\x00-\x1f\x7f]")

# Names already checked; bounded, since names may come from data.
_goodNames: set[str] = set(VALID_HTML_TAG_NAMES)
MAX_CACHED_NAMES = 4096


def _checkName(name: str, what: str) -> str:
    """
    Refuse a tag or attribute name that could inject markup.

    :raises ValueError: if it is empty or has a forbidden character.
    """
    if name in _goodNames:
        return name
    if not name or _BAD_NAME.search(name):
        raise ValueError(f"invalid {what} name {name!r}")
    if len(_goodNames) < MAX_CACHED_NAMES:
        _goodNames.add(name)
    return name


def _attributeName(key: str | bytes) -> str:
    if isinstance(key, bytes):
        key = key.decode("utf-8")
    return _checkName(key, "attribute")


# A frame of the flattener's stack:
#   0 iterator over the items still to write
#   1 bytes to write when the iterator is exhausted (an end tag), or b""
#   2 the element that produced the frame (for error messages), or None
#   3 the slot data in scope: a list of dicts, innermost last
#   4 the nearest enclosing IRenderable (renderer lookups), or None
#   5 true inside an attribute value (text is escaped when the value ends)
#   6 the list output is gathered into
#   7 for an attribute value's frame, the enclosing output list, else None
_Frame = tuple[
    Iterator[Any],
    bytes,
    object,
    list[dict[str, Any]],
    Any,
    bool,
    list[bytes],
    "list[bytes] | None",
]


class _Flattener:
    """
    One flattening run: the stack, the output, and the Deferred that fires
    when everything is written.
    """

    def __init__(
        self,
        request: IRequest | None,
        root: Flattenable,
        write: Callable[[bytes], object] | None,
    ) -> None:
        self.request = request
        self.write = write
        self.output: list[bytes] = []
        self.stack: list[_Frame] = [
            (iter((root,)), b"", None, [], None, False, self.output, None)
        ]
        self.done: Deferred[None] = Deferred(self._cancel)
        self.waitingOn: Deferred[Any] | None = None
        self.finished = False

    def _cancel(self, done: Deferred[None]) -> None:
        waiting = self.waitingOn
        if waiting is not None:
            # Its CancelledError fails the flattening, naming where it was.
            waiting.cancel()
        self.finished = True

    def _flush(self) -> None:
        output = self.output
        if output and self.write is not None:
            data = b"".join(output)
            output.clear()
            self.write(data)

    def _fail(
        self, exception: BaseException, tb: TracebackType | None, extra: object
    ) -> None:
        roots = [frame[2] for frame in self.stack if frame[2] is not None]
        if extra is not None and (not roots or roots[-1] is not extra):
            roots.append(extra)
        frames = list(_traceback_module.extract_tb(tb)) if tb is not None else []
        error = FlattenerError(exception, roots, frames)
        error.__cause__ = exception
        self.finished = True
        self.stack.clear()
        # What was produced before the error is still the caller's to write;
        # if writing is what failed, there is nothing more to do with it.
        try:
            self._flush()
        except Exception:
            self.output.clear()
        self.done.errback(Failure(error))

    def _resumed(self, result: object) -> None:
        """
        A Deferred in the document fired: flatten its result in its place.
        """
        waiting = self.waitingOn
        self.waitingOn = None
        if self.finished:
            return None
        if isinstance(result, Failure):
            self._fail(result.value, result.getTracebackObject(), waiting)
            return None
        top = self.stack[-1]
        self.stack.append(
            (iter((result,)), b"", waiting, top[3], top[4], top[5], top[6], None)
        )
        self.run()
        return None

    def run(self) -> None:
        """
        Flatten until the document is done or waits on a Deferred.
        """
        request = self.request
        stack = self.stack
        rootOutput = self.output
        write = self.write
        failing: object = None
        try:
            while stack:
                it, close, _, slots, factory, inAttr, out, parentOut = stack[-1]
                # Set by a branch that descends into a child frame before it
                # breaks out of the loop; the frame is pushed after the loop.
                child: Iterator[Any] | None = None
                for item in it:
                    t = type(item)
                    if t is str:
                        if inAttr:
                            out.append(item.encode("utf-8"))
                        else:
                            out.append(
                                item.replace("&", "&amp;")
                                .replace("<", "&lt;")
                                .replace(">", "&gt;")
                                .encode("utf-8")
                            )
                        continue
                    if t is Tag and item.render is None and item.slotData is None:
                        name = item.tagName
                        children = item.children
                        if not name:
                            if children:
                                child, childClose, root = iter(children), b"", item
                                break
                            continue
                        if name not in _goodNames:
                            failing = item
                            _checkName(name, "tag")
                            failing = None
                        attributes = item.attributes
                        if attributes:
                            failing = item
                            opening = _startTag(name, attributes)
                            if type(opening) is not str:
                                child = _complexTag(item, opening)
                                childClose, root = _endTag(item), item
                                failing = None
                                break
                            failing = None
                        else:
                            opening = "<" + name
                        if children:
                            if name in VOID_ELEMENTS:
                                failing = item
                                raise ValueError(
                                    f"<{name}> is a void element"
                                    " and cannot have children"
                                )
                            out.append((opening + ">").encode("utf-8"))
                            child, root = iter(children), item
                            childClose = ("</" + name + ">").encode("utf-8")
                            break
                        if name in VOID_ELEMENTS:
                            out.append((opening + " />").encode("utf-8"))
                        else:
                            out.append((opening + "></" + name + ">").encode("utf-8"))
                        continue
                    if t is slot or isinstance(item, slot):
                        failing = item
                        for scopeData in reversed(slots):
                            if item.name in scopeData:
                                value = scopeData[item.name]
                                break
                        else:
                            if item.default is None:
                                raise UnfilledSlot(item.name)
                            value = item.default
                        failing = None
                        child, childClose, root = iter((value,)), b"", item
                        break
                    if isinstance(item, Tag):
                        # A tag with a renderer or filled slots.
                        failing = item
                        if item.slotData:
                            # This frame's own slots are read again from the
                            # stack when the child is done.
                            slots = [*slots, item.slotData]
                        if item.render is not None:
                            if factory is None:
                                raise ValueError(
                                    f"<{item.tagName}> wants renderer {item.render!r}"
                                    " but is not inside any renderable element"
                                )
                            renderMethod = factory.lookupRenderMethod(item.render)
                            copy = item.clone(False)
                            copy.render = None
                            result = renderMethod(request, copy)
                            child, childClose = iter((result,)), b""
                        else:
                            child = _complexTag(item, None)
                            childClose = _endTag(item)
                        root = item
                        failing = None
                        break
                    if t is bytes or isinstance(item, bytes):
                        _checkUTF8(item)
                        if inAttr:
                            out.append(item)
                        else:
                            out.append(escapeForContent(item))
                        continue
                    if isinstance(item, str):
                        out.append(
                            attributeEscapingDoneOutside(str(item))
                            if inAttr
                            else escapeForContent(str(item))
                        )
                        continue
                    if t is _Markup:
                        out.append(item.data)
                        continue
                    if t is _Attribute:
                        out.append(f' {item.name}="'.encode())
                        stack.append(
                            (
                                iter((item.value,)),
                                b'"',
                                None,
                                slots,
                                factory,
                                True,
                                [],
                                out,
                            )
                        )
                        break
                    if t is list or t is tuple or isinstance(item, (list, tuple)):
                        child, childClose, root = iter(item), b"", None
                        break
                    if isinstance(item, GeneratorType):
                        child, childClose, root = item, b"", None
                        break
                    if isinstance(item, raw):
                        data = item.data
                        out.append(
                            data.encode("utf-8") if isinstance(data, str) else data
                        )
                        continue
                    if isinstance(item, Comment):
                        out.append(b"<!--" + _escapeComment(item.data) + b"-->")
                        continue
                    if isinstance(item, CDATA):
                        out.append(b"<![CDATA[" + _escapeCDATA(item.data) + b"]]>")
                        continue
                    if isinstance(item, CharRef):
                        out.append(b"&#%d;" % (item.ordinal,))
                        continue
                    if isinstance(item, CoroutineType):
                        item = Deferred.fromCoroutine(item)
                    if isinstance(item, Deferred):
                        if self._waitFor(item):
                            # Fired already: _resumed pushed its result.
                            break
                        # Not yet: hand what is written so far to the
                        # caller, and continue when it fires.
                        if write is not None and rootOutput:
                            self._flush()
                        return
                    if IRenderable.providedBy(item):
                        failing = item
                        result = item.render(request)
                        failing = None
                        child, childClose, root = iter((result,)), b"", item
                        # Renderers inside are looked up on this renderable.
                        factory = item
                        break
                    failing = item
                    raise UnsupportedType(
                        f"{item!r} (of type {type(item).__name__}) is not flattenable"
                    )
                else:
                    # This frame's items are all written.
                    stack.pop()
                    if parentOut is not None:
                        # An attribute value: escape everything it produced.
                        parentOut.append(_escapeAttribute(b"".join(out)))
                        parentOut.append(close)
                    else:
                        if close:
                            out.append(close)
                        if (
                            write is not None
                            and out is rootOutput
                            and len(rootOutput) >= FLUSH_PIECES
                        ):
                            self._flush()
                if child is not None:
                    stack.append(
                        (child, childClose, root, slots, factory, inAttr, out, None)
                    )
            if write is not None:
                self._flush()
        except _DeferredFailed as e:
            self._fail(e.failure.value, e.failure.getTracebackObject(), e.deferred)
            return
        except Exception as e:
            self._fail(e, e.__traceback__, failing)
            return
        if not self.finished:
            self.finished = True
            self.done.callback(None)

    def _waitFor(self, d: Deferred[Any]) -> bool:
        """
        Wait for a Deferred of the document.

        :return: true if it had fired already and its result is pushed (or
            its failure reported), false if flattening must pause.
        """
        self.waitingOn = d
        box: list[object] = []
        synchronous = [True]

        def fired(result: object) -> None:
            if synchronous[0]:
                box.append(result)
            else:
                self._resumed(result)
            return None

        d.addBoth(fired)
        synchronous[0] = False
        if not box:
            return False
        result = box[0]
        if isinstance(result, Failure):
            self.waitingOn = None
            raise _DeferredFailed(result, d)
        top = self.stack[-1]
        self.stack.append(
            (iter((result,)), b"", d, top[3], top[4], top[5], top[6], None)
        )
        self.waitingOn = None
        return True


class _DeferredFailed(Exception):
    """
    A Deferred in the document had failed already; carries its Failure out
    of ``_Flattener.run``.
    """

    def __init__(self, failure: Failure, deferred: Deferred[Any]) -> None:
        super().__init__(failure)
        self.failure = failure
        self.deferred = deferred


def _startTag(name: str, attributes: dict[Any, Any]) -> str | None:
    """
    ``<name attr="value" ...`` (without the closing ``>``) when every
    attribute value is text, else ``None``.
    """
    parts = ["<", name]
    for key, value in attributes.items():
        if type(value) is not str:
            return None
        parts.append(
            f' {_attributeName(key)}="'
            + value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
            + '"'
        )
    return "".join(parts)


def _complexTag(tag: Tag, opening: str | None) -> Iterator[Any]:
    """
    The items of a tag whose attributes are not all text: its start tag in
    pieces, each attribute value flattened on its own, then its children.
    """
    name = tag.tagName
    items: list[Any] = []
    if name:
        _checkName(name, "tag")
        items.append(_Markup(b"<" + name.encode("utf-8")))
        for key, value in tag.attributes.items():
            items.append(_Attribute(_attributeName(key), value))
        if tag.children:
            if name in VOID_ELEMENTS:
                raise ValueError(f"<{name}> is a void element and cannot have children")
            items.append(_Markup(b">"))
        elif name in VOID_ELEMENTS:
            items.append(_Markup(b" />"))
        else:
            items.append(_Markup(b">"))
    items.extend(tag.children)
    return iter(items)


def _endTag(tag: Tag) -> bytes:
    name = tag.tagName
    if not name or (name in VOID_ELEMENTS and not tag.children):
        return b""
    return b"</" + name.encode("utf-8") + b">"


def flatten(
    request: IRequest | None,
    root: Flattenable,
    write: Callable[[bytes], object],
) -> Deferred[None]:
    """
    Write a document as UTF-8 bytes, as it is produced.

    Text is escaped for where it appears (element content, attribute
    values); tags, slots, comments, CDATA sections, character references,
    lists, tuples and generators are walked; Deferreds and coroutines
    anywhere in the document are waited for and their results flattened in
    their place; ``IRenderable`` providers (such as ``Element``) are
    rendered, and the tags they produce may name their renderers.

    :param request: the request being answered, passed to renderers and
        ``render`` methods (may be ``None``).
    :param root: the document.
    :param write: called with each piece of output, in order.
    :return: a Deferred that fires with ``None`` when everything is written,
        or fails with ``FlattenerError`` (wrapping, for example,
        ``UnsupportedType``, ``UnfilledSlot`` or a renderer's exception).
    """
    flattener = _Flattener(request, root, write)
    flattener.run()
    return flattener.done


def flattenString(request: IRequest | None, root: Flattenable) -> Deferred[bytes]:
    """
    Flatten a document into one ``bytes``.

    :param request: the request being answered, passed to renderers (may be
        ``None``).
    :param root: the document.
    :return: a Deferred firing with the UTF-8 document, or failing with
        ``FlattenerError``.
    """
    flattener = _Flattener(request, root, None)
    flattener.run()
    output = flattener.output
    return flattener.done.addCallback(lambda _: b"".join(output))
