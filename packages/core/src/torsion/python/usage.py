"""
Command-line option parsing with declarative ``Options`` classes.

Subclass ``Options`` and declare what the command accepts::

    class ServeOptions(usage.Options):
        optFlags = [["verbose", "v", "Log every request."]]
        optParameters = [
            ["port", "p", 8080, "Port to listen on.", usage.portCoerce],
            ["root", None, ".", "Directory to serve."],
        ]

        def opt_header(self, value):
            \"\"\"Add a response header (NAME:VALUE); may be repeated.\"\"\"
            self.setdefault("headers", []).append(value)

    options = ServeOptions()
    try:
        options.parseOptions()          # sys.argv[1:]
    except usage.UsageError as e:
        raise SystemExit(f"{options}\\nError: {e}")
    print(options["port"], options["verbose"], options.get("headers"))

``str(options)`` (and ``--help``) give a usage text built from the
declarations and the ``opt_`` methods' docstrings.
"""

from __future__ import annotations

import getopt
import inspect
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, NoReturn

__all__ = [
    "CoerceParameter",
    "CompleteDirs",
    "CompleteFiles",
    "CompleteGroups",
    "CompleteHostnames",
    "CompleteList",
    "CompleteMultiList",
    "CompleteNetInterfaces",
    "CompleteUserAtHost",
    "CompleteUsernames",
    "Completer",
    "Completions",
    "Options",
    "UsageError",
    "error",
    "portCoerce",
]


class UsageError(Exception):
    """
    The command line is wrong: an unknown option, a missing or invalid
    value, or the wrong number of arguments.  The message says which.
    """


error = UsageError
"""Another name for ``UsageError``."""


def portCoerce(value: str) -> int:
    """
    Turn a command-line value into a TCP or UDP port number.

    :param value: the text given on the command line.
    :return: the port, from 0 to 65535.
    :raises ValueError: if it is not an integer in that range.
    """
    port = int(value)
    if port < 0 or port > 65535:
        raise ValueError(f"Port number not in range: {value}")
    return port


portCoerce.coerceDoc = "Must be an int between 0 and 65535."  # type: ignore[attr-defined]


class CoerceParameter:
    """
    Converts and stores the value of an ``optParameters`` entry.
    """

    def __init__(
        self, options: Options, coerce: Callable[[str], Any], name: str
    ) -> None:
        """
        :param options: the options object to store into.
        :param coerce: converts the text; may raise ``ValueError`` or
            ``TypeError`` for a bad value.
        :param name: the option's long name (the dictionary key).
        """
        self.options = options
        self.coerce = coerce
        self.name = name
        self.doc: str | None = getattr(coerce, "coerceDoc", None)

    def dispatch(self, parameterName: str, value: str | None) -> None:
        """
        Convert ``value`` and store it.

        :param parameterName: the option as the user typed it.
        :param value: the text given.
        :raises UsageError: naming the option, if the value is missing or
            cannot be converted.
        """
        if value is None:
            raise UsageError(f"Parameter '{parameterName}' requires an argument.")
        try:
            converted = self.coerce(value)
        except (ValueError, TypeError) as e:
            raise UsageError(
                f"Invalid value for option '{parameterName}': {value!r} ({e})"
            ) from None
        self.options[self.name] = converted


def _accumulate(cls: type, attribute: str) -> list[Any]:
    # Base classes' declarations come first, so that a subclass adds to
    # what it inherits.
    collected: list[Any] = []
    for klass in reversed(cls.__mro__):
        collected.extend(klass.__dict__.get(attribute, []) or [])
    return collected


def _firstParagraph(doc: str | None) -> str | None:
    if not doc:
        return None
    text = inspect.cleandoc(doc)
    paragraph = text.split("\n\n", 1)[0]
    return " ".join(paragraph.split()) or None


class _Declaration:
    def __init__(
        self,
        long: str,
        short: str | None,
        takesValue: bool,
        doc: str | None,
        default: Any = None,
        coerceDoc: str | None = None,
    ) -> None:
        self.long = long
        self.short = short
        self.takesValue = takesValue
        self.doc = doc
        self.default = default
        self.coerceDoc = coerceDoc


class Options(dict[str, Any]):
    """
    A command's options, parsed from its command line; also a dictionary
    of the parsed values.

    Declare, in a subclass:

    - ``optFlags``: ``[long, short, doc]`` entries; a flag's value is 0,
      or 1 once given.
    - ``optParameters``: ``[long, short, default, doc, coerce]`` entries
      (the last two optional); the value is ``coerce(text)`` if ``coerce``
      is given.  A coerce function's ``coerceDoc`` attribute is added to
      the help.
    - ``opt_name(self)`` methods (flags) and ``opt_name(self, value)``
      methods (parameters); their docstrings are the help; underscores in
      ``name`` become dashes on the command line.  ``opt_n = opt_name``
      makes ``-n`` a synonym.
    - ``subCommands``: ``[name, shortcut, OptionsClass, doc]`` entries, and
      optionally ``defaultSubCommand``.  After parsing, ``subCommand`` is
      the command's name and ``subOptions`` its parsed options (whose
      ``parent`` is this object).
    - ``parseArgs(self, ...)``: receives the positional arguments; a wrong
      number of them is a ``UsageError``.
    - ``postOptions(self)``: called last, to check the options together.
    - ``synopsis`` and ``longdesc``: the first line and closing text of the
      help.
    - ``compData``: a ``Completions`` describing how to complete values in
      a shell.

    Every command gets ``--help`` (and ``-h``, unless the subclass uses
    that letter) and ``--version``.
    """

    subCommand: str | None = None
    subOptions: Options | None = None
    defaultSubCommand: str | None = None
    parent: Options | None = None
    synopsis: str | None = None
    longdesc: str | None = None
    compData: Completions | None = None
    optFlags: Sequence[Sequence[Any]] = []
    optParameters: Sequence[Sequence[Any]] = []
    subCommands: Sequence[Sequence[Any]] = []
    _shellCompFile: IO[str] = sys.stdout

    def __init__(self) -> None:
        super().__init__()
        self.opts = self
        self._declarations: dict[str, _Declaration] = {}
        # Every spelling (long name, dashes or underscores, short letter)
        # maps to the canonical long name.
        self.synonyms: dict[str, str] = {}
        self._dispatch: dict[str, Callable[[str, str | None], None]] = {}
        self._gatherFlags()
        self._gatherParameters()
        self._gatherMethods()
        if "h" not in self.synonyms and "help" in self._declarations:
            self._addShort("h", "help")
            self._declarations["help"].short = "h"
        self.defaults = dict(self)
        self.docs = {name: d.doc for name, d in self._declarations.items()}

    def __hash__(self) -> int:  # type: ignore[override]
        # Options objects are used as keys (by identity) in registries.
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    # -- gathering the declarations ----------------------------------------

    def _declare(self, declaration: _Declaration) -> None:
        long = declaration.long
        if long in self._declarations:
            raise ValueError(f"Option '--{long}' is declared twice in {self!r}")
        self._declarations[long] = declaration
        self.synonyms[long] = long
        self.synonyms[long.replace("_", "-")] = long
        self.synonyms[long.replace("-", "_")] = long
        if declaration.short:
            self._addShort(declaration.short, long)

    def _addShort(self, short: str, long: str) -> None:
        if len(short) != 1:
            raise ValueError(f"Short option {short!r} for '--{long}' must be 1 char")
        existing = self.synonyms.get(short)
        if existing is not None and existing != long:
            raise ValueError(
                f"Short option '-{short}' is used by both '--{existing}' and '--{long}'"
            )
        self.synonyms[short] = long

    def _gatherFlags(self) -> None:
        for entry in _accumulate(type(self), "optFlags"):
            entry = list(entry) + [None] * (3 - len(entry))
            long, short, doc = entry[:3]
            self._declare(_Declaration(long, short, False, doc))
            self[long] = 0
            self._dispatch[long] = self._makeFlagSetter(long)

    def _makeFlagSetter(self, long: str) -> Callable[[str, str | None], None]:
        def setFlag(name: str, value: str | None) -> None:
            self[long] = 1

        return setFlag

    def _gatherParameters(self) -> None:
        for entry in _accumulate(type(self), "optParameters"):
            entry = list(entry) + [None] * (5 - len(entry))
            long, short, default, doc, coerce = entry[:5]
            coercer = CoerceParameter(self, coerce or (lambda value: value), long)
            self._declare(_Declaration(long, short, True, doc, default, coercer.doc))
            self[long] = default
            self._dispatch[long] = coercer.dispatch

    def _gatherMethods(self) -> None:
        methodsByFunction: dict[Any, list[str]] = {}
        for klass in type(self).__mro__:
            for attribute, value in klass.__dict__.items():
                if attribute.startswith("opt_") and callable(value):
                    names = methodsByFunction.setdefault(value, [])
                    name = attribute[4:]
                    if name not in names:
                        names.append(name)
        for function, names in methodsByFunction.items():
            longNames = [n for n in names if len(n) > 1]
            shortNames = [n for n in names if len(n) == 1]
            # The declared (not aliased) name is the function's own name.
            ownName = getattr(function, "__name__", "")[4:]
            canonical = (
                ownName
                if ownName in longNames
                else (longNames[0] if longNames else shortNames[0])
            )
            canonical = canonical.replace("_", "-")
            bound = getattr(self, "opt_" + (ownName if ownName in names else names[0]))
            takesValue = self._takesValue(bound)
            doc = _firstParagraph(getattr(function, "__doc__", None))
            declaration = self._declarations.get(canonical)
            if declaration is None:
                self._declare(_Declaration(canonical, None, takesValue, doc))
            elif doc and not declaration.doc:
                declaration.doc = doc
            for name in longNames:
                for spelling in (name, name.replace("_", "-")):
                    self.synonyms.setdefault(spelling, canonical)
            for short in shortNames:
                self._addShort(short, canonical)
                if self._declarations[canonical].short is None:
                    self._declarations[canonical].short = short
            self._dispatch[canonical] = self._makeMethodCaller(bound, takesValue)

    @staticmethod
    def _takesValue(method: Callable[..., Any]) -> bool:
        try:
            parameters = [
                p
                for p in inspect.signature(method).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):
            return False
        return len(parameters) >= 1

    @staticmethod
    def _makeMethodCaller(
        method: Callable[..., Any], takesValue: bool
    ) -> Callable[[str, str | None], None]:
        def call(name: str, value: str | None) -> None:
            if takesValue:
                if value is None:
                    raise UsageError(f"Parameter '{name}' requires an argument.")
                method(value)
            else:
                method()

        return call

    # -- parsing -------------------------------------------------------------

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse a command line into this object.

        :param options: the arguments, without the program name; by default
            ``sys.argv[1:]``.
        :raises UsageError: if the command line is wrong; the message names
            the offending option or argument.
        """
        if options is None:
            options = sys.argv[1:]
        options = list(options)
        if len(options) >= 2 and options[-2] == "--_shell-completion":
            from torsion.python._shellcomp import shellComplete

            try:
                shellComplete(
                    self, os.path.basename(sys.argv[0]), options, self._shellCompFile
                )
            except ValueError as e:
                raise UsageError(str(e)) from None
            sys.exit(0)
        shortSpec = "".join(
            d.short + (":" if d.takesValue else "")
            for d in self._declarations.values()
            if d.short
        )
        for synonym, long in self.synonyms.items():
            if len(synonym) == 1 and self._declarations[long].short != synonym:
                shortSpec += synonym + (
                    ":" if self._declarations[long].takesValue else ""
                )
        longSpec = sorted(
            {
                synonym + ("=" if self._declarations[long].takesValue else "")
                for synonym, long in self.synonyms.items()
                if len(synonym) > 1
            }
        )
        try:
            pairs, arguments = getopt.getopt(options, shortSpec, longSpec)
        except getopt.GetoptError as e:
            raise UsageError(self._describeGetoptError(e)) from None
        for option, value in pairs:
            name = option.lstrip("-")
            canonical = self.synonyms.get(name) or self.synonyms.get(
                name.replace("-", "_")
            )
            if canonical is None:
                raise UsageError(f"No such option '{option}'")
            declaration = self._declarations[canonical]
            self._dispatch[canonical](option, value if declaration.takesValue else None)
        if self.subCommands:
            self._parseSubCommand(arguments)
        else:
            self._parseArguments(arguments)
        self.postOptions()

    @staticmethod
    def _describeGetoptError(e: getopt.GetoptError) -> str:
        option = e.opt or ""
        prefix = "--" if len(option) > 1 else "-"
        message = str(e.msg)
        if "not recognized" in message:
            return f"No such option '{prefix}{option}'"
        if "requires argument" in message:
            return f"Option '{prefix}{option}' requires an argument"
        if "must not have an argument" in message:
            return f"Flag '{prefix}{option}' takes no argument"
        if "not a unique prefix" in message:
            return f"Option '{prefix}{option}' is ambiguous (not a unique prefix)"
        return message

    def _parseSubCommand(self, arguments: list[str]) -> None:
        if arguments:
            command, rest = arguments[0], arguments[1:]
        elif self.defaultSubCommand is not None:
            command, rest = self.defaultSubCommand, []
        else:
            return
        for entry in self.subCommands:
            name, shortcut, parserClass = entry[0], entry[1], entry[2]
            if command == name or (shortcut and command == shortcut):
                self.subCommand = name
                subOptions = parserClass()
                subOptions.parent = self
                self.subOptions = subOptions
                subOptions.parseOptions(rest)
                return
        raise UsageError(f"Unknown command: {command}")

    def _parseArguments(self, arguments: list[str]) -> None:
        try:
            inspect.signature(self.parseArgs).bind(*arguments)
        except TypeError:
            raise UsageError(
                f"Wrong number of arguments: {len(arguments)} given "
                f"({' '.join(arguments) or 'none'})."
            ) from None
        self.parseArgs(*arguments)

    def _takesNoArguments(self) -> None:
        """
        The default ``parseArgs``: a command takes no positional arguments.
        """

    # Typed as any callable so that a subclass may override it with the
    # parameters its command takes (``def parseArgs(self, path: str)``)
    # and still type-check.
    parseArgs: Callable[..., None] = _takesNoArguments
    """
    Receive the positional arguments.  Override it with a method taking the
    parameters the command takes (``def parseArgs(self, source, dest="out")``);
    a command line with a number of arguments the method cannot take is a
    ``UsageError``.  By default a command takes none.
    """

    def postOptions(self) -> None:
        """
        Called after everything is parsed; override to check options that
        depend on each other, raising ``UsageError`` if they conflict.
        """

    # -- built-in options --------------------------------------------------

    def opt_help(self) -> NoReturn:
        """
        Display this help and exit.
        """
        print(self.__str__())
        sys.exit(0)

    def opt_version(self) -> NoReturn:
        """
        Display torsion version and exit.
        """
        from torsion.core import __version__

        print(f"torsion version: {__version__}")
        sys.exit(0)

    # -- help text -------------------------------------------------------------

    def getSynopsis(self) -> str:
        """
        :return: the first line of the help, such as
            ``"Usage: prog [options] serve [options] <path>"``.
        """
        if self.parent is None:
            default = f"Usage: {os.path.basename(sys.argv[0])}" + (
                " [options]" if self._declarations else ""
            )
        else:
            default = "[options]" if self._declarations else ""
        synopsis = (self.synopsis if self.synopsis is not None else default).rstrip()
        if self.parent is not None:
            parts = [self.parent.getSynopsis(), self.parent.subCommand or "", synopsis]
            synopsis = " ".join(part for part in parts if part)
        return synopsis

    def getUsage(self, width: int | None = None) -> str:
        """
        Build the help text: the options, the commands and ``longdesc``,
        wrapped to ``width`` columns.

        :param width: the number of columns; by default the terminal's width.
        :return: the help text.
        """
        if width is None:
            width = shutil.get_terminal_size((80, 24)).columns
        width = max(width, 40)
        sections: list[str] = []
        rows = [self._optionRow(d) for _, d in sorted(self._declarations.items())]
        if rows:
            sections.append("Options:\n" + _table(rows, width))
        if self.subCommands:
            commandRows = []
            for entry in self.subCommands:
                name, shortcut, _, doc = [*entry, None][:4]
                label = f"  {name}" + (f" ({shortcut})" if shortcut else "")
                commandRows.append((label, doc or ""))
            sections.append("Commands:\n" + _table(commandRows, width))
        if self.longdesc:
            paragraphs = inspect.cleandoc(self.longdesc).split("\n\n")
            sections.append(
                "\n\n".join(
                    textwrap.fill(" ".join(p.split()), width) for p in paragraphs
                )
            )
        return "\n\n".join(sections) + "\n"

    def _optionRow(self, declaration: _Declaration) -> tuple[str, str]:
        short = f"-{declaration.short}, " if declaration.short else "    "
        label = f"  {short}--{declaration.long}" + (
            "=" if declaration.takesValue else ""
        )
        doc = declaration.doc or ""
        if declaration.coerceDoc:
            doc = f"{doc} {declaration.coerceDoc}".strip()
        if declaration.takesValue and declaration.default is not None:
            doc = f"{doc} [default: {declaration.default}]".strip()
        return label, doc

    def __str__(self) -> str:
        return f"{self.getSynopsis()}\n\n{self.getUsage()}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


def _table(rows: Iterable[tuple[str, str]], width: int) -> str:
    rows = list(rows)
    labelWidth = min(max(len(label) for label, _ in rows) + 2, width // 2)
    docWidth = max(width - labelWidth, 20)
    lines: list[str] = []
    for label, doc in rows:
        docLines = textwrap.wrap(doc, docWidth) or [""]
        if len(label) + 2 > labelWidth:
            lines.append(label)
            lines.extend(" " * labelWidth + line for line in docLines if line)
        else:
            lines.append(label.ljust(labelWidth) + docLines[0])
            lines.extend(" " * labelWidth + line for line in docLines[1:])
    return "\n".join(line.rstrip() for line in lines)


# -- shell completion metadata ---------------------------------------------------


class Completer:
    """
    Describes how a shell completes one option's value or one positional
    argument.  Use one of the subclasses.

    :ivar descr: a short description shown by the shell.
    :ivar repeat: for the last positional argument: it may be repeated.
    """

    def __init__(self, descr: str | None = None, repeat: bool = False) -> None:
        """
        :param descr: a short description of the value.
        :param repeat: for the last of ``extraActions``: completes every
            remaining positional argument.
        """
        self.descr = descr
        self.repeat = repeat

    def _zshAction(self) -> str:
        return " "

    def _bashWords(self, prefix: str) -> str:
        return ""


def _shellQuote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _wordList(words: Iterable[str]) -> str:
    # Newlines separate the words whether IFS is the default or a newline.
    return _shellQuote("\n".join(words))


class CompleteFiles(Completer):
    """
    Complete file names, optionally matching a glob pattern.
    """

    def __init__(
        self, descr: str | None = None, globPattern: str = "*", repeat: bool = False
    ) -> None:
        """
        :param descr: a short description.
        :param globPattern: the names to offer, such as ``"*.pem"``.
        :param repeat: see ``Completer``.
        """
        super().__init__(descr, repeat)
        self.globPattern = globPattern

    def _zshAction(self) -> str:
        return f"_files -g {_shellQuote(self.globPattern)}"

    def _bashWords(self, prefix: str) -> str:
        quoted = _shellQuote(prefix)
        if self.globPattern == "*":
            return f"compgen -f -- {quoted}"
        return (
            f"compgen -f -X {_shellQuote('!' + self.globPattern)} -- {quoted}; "
            f"compgen -d -- {quoted}"
        )


class CompleteDirs(Completer):
    """
    Complete directory names.
    """

    def _zshAction(self) -> str:
        return "_directories"

    def _bashWords(self, prefix: str) -> str:
        return f"compgen -d -- {_shellQuote(prefix)}"


class CompleteList(Completer):
    """
    Complete one of a fixed list of words.
    """

    def __init__(
        self, items: Iterable[str], descr: str | None = None, repeat: bool = False
    ) -> None:
        """
        :param items: the words to offer.
        :param descr: a short description.
        :param repeat: see ``Completer``.
        """
        super().__init__(descr, repeat)
        self.items = [str(item) for item in items]

    def _zshAction(self) -> str:
        return "(" + " ".join(_zshEscape(item, " ()") for item in self.items) + ")"

    def _bashWords(self, prefix: str) -> str:
        return f"compgen -W {_wordList(self.items)} -- {_shellQuote(prefix)}"


class CompleteMultiList(CompleteList):
    """
    Complete a comma-separated list of words from a fixed list.
    """

    def _zshAction(self) -> str:
        descr = _shellQuote(self.descr or "values")
        return f"_values -s , {descr} " + " ".join(_shellQuote(i) for i in self.items)

    def _bashWords(self, prefix: str) -> str:
        head, comma, last = prefix.rpartition(",")
        done = head + comma
        return (
            f"compgen -W {_wordList(self.items)} "
            f"-P {_shellQuote(done)} -- {_shellQuote(last)}"
        )


class CompleteUsernames(Completer):
    """
    Complete user names.
    """

    def _zshAction(self) -> str:
        return "_users"

    def _bashWords(self, prefix: str) -> str:
        return f"compgen -u -- {_shellQuote(prefix)}"


class CompleteGroups(Completer):
    """
    Complete group names.
    """

    def _zshAction(self) -> str:
        return "_groups"

    def _bashWords(self, prefix: str) -> str:
        return f"compgen -g -- {_shellQuote(prefix)}"


class CompleteHostnames(Completer):
    """
    Complete host names.
    """

    def _zshAction(self) -> str:
        return "_hosts"

    def _bashWords(self, prefix: str) -> str:
        return f"compgen -A hostname -- {_shellQuote(prefix)}"


class CompleteUserAtHost(Completer):
    """
    Complete ``user@host`` (or just a host name).
    """

    def _zshAction(self) -> str:
        return "_user_at_host"

    def _bashWords(self, prefix: str) -> str:
        if "@" in prefix:
            user, _, host = prefix.partition("@")
            return (
                f"compgen -A hostname -P {_shellQuote(user + '@')} -- "
                f"{_shellQuote(host)}"
            )
        return (
            f"compgen -u -S @ -- {_shellQuote(prefix)}; "
            f"compgen -A hostname -- {_shellQuote(prefix)}"
        )


class CompleteNetInterfaces(Completer):
    """
    Complete network interface names.
    """

    def _zshAction(self) -> str:
        return "_net_interfaces"

    def _bashWords(self, prefix: str) -> str:
        return f'compgen -W "$(ls /sys/class/net 2>/dev/null)" -- {_shellQuote(prefix)}'


def _zshEscape(text: str, special: str) -> str:
    for char in "\\" + special:
        text = text.replace(char, "\\" + char)
    return text


class Completions:
    """
    Shell-completion metadata for an ``Options`` class, set as its
    ``compData`` attribute.
    """

    def __init__(
        self,
        descriptions: dict[str, str] | None = None,
        multiUse: Sequence[str] | None = None,
        mutuallyExclusive: Sequence[Sequence[str]] | None = None,
        optActions: dict[str, Completer] | None = None,
        extraActions: Sequence[Completer] | None = None,
    ) -> None:
        """
        :param descriptions: per long option name, a short description
            replacing its help text in completion menus.
        :param multiUse: long names of options that may be given repeatedly.
        :param mutuallyExclusive: groups of long names of which at most one
            may be given.
        :param optActions: per long option name, how to complete its value.
        :param extraActions: how to complete positional arguments, in order;
            the last may have ``repeat=True``.
        :raises ValueError: if a ``repeat`` completer is not last.
        """
        self.descriptions = dict(descriptions or {})
        self.multiUse = list(multiUse or [])
        self.mutuallyExclusive = [list(group) for group in mutuallyExclusive or []]
        self.optActions = dict(optActions or {})
        self.extraActions = list(extraActions or [])
        for action in self.extraActions[:-1]:
            if action.repeat:
                raise ValueError(
                    "Completer with repeat=True must be last in extraActions"
                )
