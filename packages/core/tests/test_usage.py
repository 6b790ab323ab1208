"""
Tests for torsion.python.usage (Options) and shell completion
(torsion.python._shellcomp).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.python import usage
from torsion.python._shellcomp import SHELLS, completionScript, shellComplete


class ServeOptions(usage.Options):
    optFlags = [["quick", "q", "Go fast."]]
    optParameters = [["mode", "m", "auto", "How to serve."]]
    compData = usage.Completions(
        optActions={"mode": usage.CompleteList(["auto", "manual"])},
        extraActions=[usage.CompleteDirs(descr="directory to serve")],
    )

    def parseArgs(self, path: str) -> None:
        self["path"] = path


class StopOptions(usage.Options):
    def parseArgs(self, *names: str) -> None:
        self["names"] = names


class MainOptions(usage.Options):
    """
    Developer documentation: not part of the help text.
    """

    longdesc = "Runs the example service.  It is only an example."
    optFlags = [
        ["verbose", "v", "Log every request."],
        ["quiet", None, "Log nothing."],
    ]
    optParameters = [
        ["port", "p", 8080, "Port to listen on.", usage.portCoerce],
        ["root", None, ".", "Directory to serve."],
        ["name", "n", None, "A name."],
    ]
    subCommands = [
        ["serve", "s", ServeOptions, "Serve a directory."],
        ["stop", None, StopOptions, "Stop servers."],
    ]
    compData = usage.Completions(
        optActions={
            "port": usage.CompleteList(["80", "8080"]),
            "root": usage.CompleteDirs(),
            "name": usage.CompleteMultiList(["alpha", "beta", "gamma"]),
        },
        mutuallyExclusive=[["verbose", "quiet"]],
        descriptions={"root": "root dir"},
        multiUse=["header"],
    )

    def __init__(self) -> None:
        super().__init__()
        self["headers"] = []

    def opt_header(self, value: str) -> None:
        """
        Add a response header, NAME:VALUE.

        May be given several times.
        """
        self["headers"].append(value)

    opt_H = opt_header

    def opt_debug(self) -> None:
        """Turn on debugging."""
        self["debug"] = True

    opt_d = opt_debug


def parse(args: list[str]) -> MainOptions:
    options = MainOptions()
    options.parseOptions(args)
    return options


# -- parsing -------------------------------------------------------------------


def test_defaults() -> None:
    options = parse([])
    assert options["verbose"] == 0
    assert options["quiet"] == 0
    assert options["port"] == 8080
    assert options["root"] == "."
    assert options["name"] is None
    assert options["headers"] == []
    assert options.subCommand is None and options.subOptions is None
    assert options.defaults["port"] == 8080


def test_flagsAndParameters() -> None:
    options = parse(["-v", "--port=99", "--root", "/srv", "-n", "x"])
    assert options["verbose"] == 1
    assert options["port"] == 99
    assert options["root"] == "/srv"
    assert options["name"] == "x"


def test_shortClusters() -> None:
    options = parse(["-vdp", "81"])
    assert options["verbose"] == 1 and options["debug"] is True
    assert options["port"] == 81
    assert parse(["-p81"])["port"] == 81


def test_optMethodsAndAliases() -> None:
    options = parse(["--header", "a:1", "-H", "b:2", "-d"])
    assert options["headers"] == ["a:1", "b:2"]
    assert options["debug"] is True


def test_dashesAndUnderscores() -> None:
    class Opts(usage.Options):
        optParameters = [["log-file", "l", None, "Log file."]]

        def opt_dry_run(self) -> None:
            """Do nothing for real."""
            self["dry"] = True

    options = Opts()
    options.parseOptions(["--dry-run", "--log-file", "x"])
    assert options["dry"] is True
    assert options["log-file"] == "x"
    assert "--dry-run" in options.getUsage()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--nope"], "No such option '--nope'"),
        (["-z"], "No such option '-z'"),
        (["--port"], "Option '--port' requires an argument"),
        (["-p"], "Option '-p' requires an argument"),
        (["--port", "http"], "Invalid value for option '--port': 'http'"),
        (["--port=70000"], "Invalid value for option '--port': '70000'"),
        (["--verbose=yes"], "Flag '--verbose' takes no argument"),
        (["bogus"], "Unknown command: bogus"),
        (["serve"], "Wrong number of arguments: 0 given"),
        (["serve", "a", "b"], "Wrong number of arguments: 2 given (a b)"),
        (["serve", "--bad", "x"], "No such option '--bad'"),
    ],
)
def test_usageErrors(args: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError) as info:
        parse(args)
    assert message in str(info.value)
    assert usage.error is usage.UsageError


def test_ambiguousPrefix() -> None:
    class Opts(usage.Options):
        optFlags = [["alpha", None, ""], ["alps", None, ""]]

    with pytest.raises(usage.UsageError, match="ambiguous"):
        Opts().parseOptions(["--al"])
    options = Opts()
    options.parseOptions(["--alph"])
    assert options["alpha"] == 1


def test_parseArgs() -> None:
    class Opts(usage.Options):
        def parseArgs(self, source: str, dest: str = "out") -> None:
            self["pair"] = (source, dest)

    for args, expected in [(["a"], ("a", "out")), (["a", "b"], ("a", "b"))]:
        options = Opts()
        options.parseOptions(args)
        assert options["pair"] == expected
    with pytest.raises(usage.UsageError, match="Wrong number of arguments"):
        Opts().parseOptions([])
    with pytest.raises(usage.UsageError):
        Opts().parseOptions(["a", "b", "c"])
    with pytest.raises(usage.UsageError, match="Wrong number"):
        usage.Options().parseOptions(["extra"])


def test_parseArgsTypeErrorIsNotHidden() -> None:
    class Opts(usage.Options):
        def parseArgs(self, value: str) -> None:
            raise TypeError("a bug in parseArgs")

    with pytest.raises(TypeError, match="a bug"):
        Opts().parseOptions(["x"])


def test_postOptions() -> None:
    class Opts(usage.Options):
        optFlags = [["up", None, ""], ["down", None, ""]]

        def postOptions(self) -> None:
            if self["up"] and self["down"]:
                raise usage.UsageError("--up and --down conflict")

    Opts().parseOptions(["--up"])
    with pytest.raises(usage.UsageError, match="conflict"):
        Opts().parseOptions(["--up", "--down"])


def test_subCommands() -> None:
    options = parse(["-v", "serve", "-q", "--mode=manual", "/srv"])
    assert options["verbose"] == 1
    assert options.subCommand == "serve"
    sub = options.subOptions
    assert isinstance(sub, ServeOptions)
    assert sub.parent is options
    assert sub["quick"] == 1 and sub["mode"] == "manual" and sub["path"] == "/srv"
    options = parse(["s", "x"])
    assert options.subCommand == "serve"
    options = parse(["stop", "a", "b"])
    assert options.subOptions is not None
    assert options.subOptions["names"] == ("a", "b")


def test_defaultSubCommand() -> None:
    class Opts(MainOptions):
        defaultSubCommand = "stop"

    options = Opts()
    options.parseOptions([])
    assert options.subCommand == "stop"
    assert options.subOptions is not None
    assert options.subOptions["names"] == ()


def test_inheritedDeclarationsAccumulate() -> None:
    class Base(usage.Options):
        optFlags = [["base", "b", "From the base."]]

    class Child(Base):
        optFlags = [["child", "c", "From the child."]]

    options = Child()
    options.parseOptions(["-bc"])
    assert options["base"] == 1 and options["child"] == 1


def test_conflictingShortOptions() -> None:
    class Opts(usage.Options):
        optFlags = [["alpha", "a", ""], ["another", "a", ""]]

    with pytest.raises(ValueError, match="'-a' is used by both"):
        Opts()


def test_helpShortTakenBySubclass() -> None:
    class Opts(usage.Options):
        optFlags = [["human", "h", "Human sizes."]]

    options = Opts()
    options.parseOptions(["-h"])
    assert options["human"] == 1


def test_parseOptionsDefaultsToArgv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["prog", "--port", "1234"])
    options = MainOptions()
    options.parseOptions()
    assert options["port"] == 1234


def test_optionsAreHashableByIdentity() -> None:
    a, b = MainOptions(), MainOptions()
    assert a != b and a == a
    assert len({a, b}) == 2


# -- help ------------------------------------------------------------------------


def test_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["myprog"])
    with pytest.raises(SystemExit) as info:
        parse(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: myprog [options]\n")
    assert "  -p, --port=" in out
    assert "Port to listen on. Must be an int between 0 and 65535." in out
    assert "[default: 8080]" in out
    assert "-H, --header=" in out and "Add a response header, NAME:VALUE." in out
    assert "May be given several times" not in out
    assert "serve (s)" in out and "Serve a directory." in out
    assert "Runs the example service." in out
    assert "Developer documentation" not in out
    with pytest.raises(SystemExit):
        parse(["-h"])


def test_subCommandHelp(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["myprog"])
    with pytest.raises(SystemExit):
        parse(["serve", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("Usage: myprog [options] serve [options]\n")
    assert "--mode=" in out and "--port" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from torsion.core import __version__

    with pytest.raises(SystemExit) as info:
        parse(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"torsion version: {__version__}\n"


@pytest.mark.parametrize("width", [40, 60, 100])
def test_usageWrapsToWidth(width: int) -> None:
    text = MainOptions().getUsage(width=width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "Log every request." in " ".join(text.split())


def test_strAndSynopsis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/bin/tool"])

    class Custom(usage.Options):
        synopsis = "Usage: tool [options] <file>"

    assert str(Custom()).startswith("Usage: tool [options] <file>\n")
    assert MainOptions().getSynopsis() == "Usage: tool [options]"


def test_portCoerce() -> None:
    assert usage.portCoerce("0") == 0
    assert usage.portCoerce("65535") == 65535
    for bad in ["-1", "65536", "http", ""]:
        with pytest.raises(ValueError):
            usage.portCoerce(bad)


def test_completionsRepeatMustBeLast() -> None:
    with pytest.raises(ValueError, match="last"):
        usage.Completions(
            extraActions=[usage.CompleteFiles(repeat=True), usage.CompleteDirs()]
        )


# -- shell completion ----------------------------------------------------------


def complete(shell: str, words: list[str], index: int) -> str:
    out = io.StringIO()
    shellComplete(
        MainOptions(), "prog", [*words, "--_shell-completion", f"{shell}:{index}"], out
    )
    return out.getvalue()


BASH = shutil.which("bash")
needsBash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def runBashSnippet(snippet: str, cwd: Path | None = None) -> list[str]:
    assert BASH is not None
    script = (
        "f() {\n    local IFS=$'\\n'\n    COMPREPLY=()\n"
        + snippet
        + '    printf "%s\\n" "${COMPREPLY[@]}"\n}\nf\n'
    )
    result = subprocess.run(
        [BASH, "--noprofile", "--norc", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


@needsBash
@pytest.mark.parametrize(
    "words, index, expected",
    [
        (["--po"], 0, ["--port"]),
        (["-"], 0, None),
        (["--port", ""], 1, ["80", "8080"]),
        (["--port", "80"], 1, ["80", "8080"]),
        (["-p", "80"], 1, ["80", "8080"]),
        (["--port", "=", ""], 2, ["80", "8080"]),
        (["--port", "="], 1, ["80", "8080"]),
        (["--name", "alpha,g"], 1, ["alpha,gamma"]),
        (["-v", ""], 1, ["serve", "stop"]),
        (["st"], 0, ["stop"]),
        (["--port", "1", "s"], 2, ["serve", "stop"]),
        (["serve", "--m"], 1, ["--mode"]),
        (["s", "-m", "m"], 2, ["manual"]),
        (["serve", "--mode", "=", "a"], 3, ["auto"]),
        (["stop", ""], 1, []),
        (["--header", ""], 1, []),
    ],
)
def test_bashCompletion(
    words: list[str], index: int, expected: list[str] | None
) -> None:
    snippet = complete("bash", words, index)
    result = runBashSnippet(snippet)
    if expected is None:
        assert "--port" in result and "--verbose" in result and "--help" in result
    else:
        assert sorted(result) == sorted(expected)


@needsBash
def test_bashCompletesDirectories(tmp_path: Path) -> None:
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "subfile").write_text("")
    snippet = complete("bash", ["serve", "su"], 1)
    assert runBashSnippet(snippet, cwd=tmp_path) == ["sub dir"]


@needsBash
def test_bashScriptsAreValidSyntax() -> None:
    assert BASH is not None
    scripts = [completionScript("prog", "bash")] + [
        complete("bash", words, index)
        for words, index in [(["--po"], 0), (["--name", "a,'b"], 1), (["x'y"], 0)]
    ]
    for script in scripts:
        subprocess.run([BASH, "-n"], input=script, text=True, check=True)


@needsBash
def test_bashEndToEnd(tmp_path: Path) -> None:
    """
    Install the generated stub in bash for a real command and press TAB
    (call the completion function the way bash does).
    """
    assert BASH is not None
    program = tmp_path / "examplecmd"
    source = Path(__file__)
    program.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(source.parent)!r})\n"
        "from test_usage import MainOptions\n"
        "MainOptions().parseOptions()\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    stub = tmp_path / "stub.bash"
    stub.write_text(completionScript("examplecmd", "bash"))
    script = (
        f"source {stub}\n"
        "COMP_WORDS=(examplecmd serve --m)\n"
        "COMP_CWORD=2\n"
        "_torsion_complete_examplecmd\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        "complete -p examplecmd\n"
    )
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [BASH, "--noprofile", "--norc", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "--mode"
    assert "_torsion_complete_examplecmd" in lines[-1]


def test_hiddenOptionWritesCompletion(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    options = MainOptions()
    monkeypatch.setattr(options, "_shellCompFile", out)
    with pytest.raises(SystemExit) as info:
        options.parseOptions(["--po", "--_shell-completion", "bash:0"])
    assert info.value.code == 0
    assert "compgen" in out.getvalue() and "--port" in out.getvalue()


def test_zshCompletion() -> None:
    text = complete("zsh", ["-v", ""], 1)
    (line,) = text.splitlines()
    assert line.startswith("_arguments -s -S ")
    assert "'(--port -p)--port=[Port to listen on.]:port:(80 8080)'" in line
    assert "'(--port -p)-p[Port to listen on.]:port:(80 8080)'" in line
    assert "'(--verbose -v --quiet)--verbose[Log every request.]'" in line
    assert "'(--quiet --verbose -v)--quiet[Log nothing.]'" in line
    assert "--root=[root dir]:root:_directories" in line
    assert "'*--header=[Add a response header, NAME\\:VALUE.]:header: '" in line
    assert "1:command:((serve\\:Serve\\ a\\ directory. stop\\:Stop\\ servers.))" in line
    assert "_values -s , " in line


def test_zshSubCommandShiftsWords() -> None:
    lines = complete("zsh", ["--port", "80", "serve", "-q", ""], 4).splitlines()
    assert lines[0] == 'words=("${(@)words[4,-1]}")'
    assert lines[1] == "(( CURRENT -= 3 ))"
    assert "--mode=[How to serve.]:mode:(auto manual)" in lines[2]
    assert "'1:directory to serve:_directories'" in lines[2]
    assert "--port" not in lines[2]


def test_zshEscapesDescriptions() -> None:
    class Opts(usage.Options):
        optFlags = [["odd", None, "Uses [brackets]: and 'quotes'."]]

    out = io.StringIO()
    shellComplete(Opts(), "p", ["", "--_shell-completion", "zsh:0"], out)
    assert "--odd[Uses \\[brackets\\]\\: and '\\''quotes'\\''.]" in out.getvalue()


def test_completionScripts() -> None:
    assert SHELLS == ("bash", "zsh")
    zsh = completionScript("my-cmd", "zsh")
    assert zsh.startswith("#compdef my-cmd\n")
    assert "--_shell-completion" in zsh
    bash = completionScript("my-cmd", "bash")
    assert "complete -o default -F _torsion_complete_my_cmd my-cmd" in bash
    with pytest.raises(ValueError):
        completionScript("my-cmd", "fish")
    with pytest.raises(ValueError):
        completionScript("bad name;rm", "bash")


@pytest.mark.parametrize(
    "words",
    [
        ["--_shell-completion", "fish:0"],
        ["--_shell-completion", "bash:x"],
        ["bash:0"],
    ],
)
def test_shellCompleteBadRequest(words: list[str]) -> None:
    with pytest.raises(ValueError):
        shellComplete(MainOptions(), "p", words, io.StringIO())


def test_completerActions() -> None:
    actions: list[tuple[Any, str, str]] = [
        (usage.CompleteFiles(globPattern="*.pem"), "_files -g '*.pem'", "-X '!*.pem'"),
        (usage.CompleteFiles(), "_files -g '*'", "compgen -f"),
        (usage.CompleteDirs(), "_directories", "compgen -d"),
        (usage.CompleteUsernames(), "_users", "compgen -u"),
        (usage.CompleteGroups(), "_groups", "compgen -g"),
        (usage.CompleteHostnames(), "_hosts", "compgen -A hostname"),
        (usage.CompleteUserAtHost(), "_user_at_host", "compgen -u -S @"),
        (usage.CompleteNetInterfaces(), "_net_interfaces", "/sys/class/net"),
        (usage.CompleteList(["a b"]), "(a\\ b)", "compgen -W 'a b'"),
    ]
    for completer, zsh, bash in actions:
        assert zsh in completer._zshAction()
        assert bash in completer._bashWords("")
    assert "-P 'root@'" in usage.CompleteUserAtHost()._bashWords("root@lo")


@needsBash
def test_userAtHostCompletesHostPart() -> None:
    words = usage.CompleteUserAtHost()._bashWords("someone@localh")
    result = runBashSnippet(f"COMPREPLY=( $( {words} ) )\n")
    assert all(r.startswith("someone@") for r in result)


def test_overridingBuiltInOptions(capsys: pytest.CaptureFixture[str]) -> None:
    class Opts(usage.Options):
        optFlags = [["verbose", "v", "Declared as a flag."]]

        # The built-in --version exits; this override returns instead.
        def opt_version(self) -> None:  # type: ignore[override]
            """Show my version."""
            print("mytool 1.0")

        def opt_verbose(self) -> None:
            self["verbose"] = 5

    options = Opts()
    options.parseOptions(["--version", "-v"])
    assert capsys.readouterr().out == "mytool 1.0\n"
    assert options["verbose"] == 5
    usageText = options.getUsage(width=80)
    assert "Show my version." in usageText
    assert "Declared as a flag." in usageText


@given(st.lists(st.text(max_size=12), max_size=6))
def test_anyCommandLineGivesUsageErrorAtWorst(args: list[str]) -> None:
    out = io.StringIO()
    options = MainOptions()
    options._shellCompFile = out
    with contextlib.redirect_stdout(out):
        try:
            options.parseOptions(args)
        except usage.UsageError:
            pass
        except SystemExit as e:
            assert e.code == 0  # --help, --version or a completion request


def test_badCompletionRequestIsUsageError() -> None:
    with pytest.raises(usage.UsageError, match="Unsupported shell"):
        MainOptions().parseOptions(["--_shell-completion", "fish:1"])


ZSH = shutil.which("zsh")
needsZsh = pytest.mark.skipif(ZSH is None, reason="zsh is not installed")


@needsZsh
def test_zshScriptsAreValidSyntax(tmp_path: Path) -> None:
    assert ZSH is not None
    scripts = [completionScript("prog", "zsh")] + [
        complete("zsh", words, index)
        for words, index in [([""], 0), (["serve", "-q", ""], 2), (["x'y"], 0)]
    ]
    for number, script in enumerate(scripts):
        path = tmp_path / f"script{number}.zsh"
        path.write_text(script)
        subprocess.run([ZSH, "-n", str(path)], check=True)


@needsZsh
def test_zshSnippetPassesSpecsAndShiftsWords(tmp_path: Path) -> None:
    """
    Evaluate the generated code in zsh with a stand-in ``_arguments`` that
    prints what it receives: the quoting survives the shell, and the words
    are shifted to the sub-command.
    """
    assert ZSH is not None
    snippet = tmp_path / "snippet.zsh"
    snippet.write_text(complete("zsh", ["--port", "80", "serve", "-q", ""], 4))
    script = (
        'words=(prog --port 80 serve -q ""); CURRENT=6\n'
        '_arguments() { printf "%s\\n" "$@"; '
        'print -r -- "W:${(j:,:)words} C:$CURRENT" }\n'
        f'eval "$(<{snippet})"\n'
    )
    result = subprocess.run(
        [ZSH, "-f", "-c", script], capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[:2] == ["-s", "-S"]
    assert "(--mode -m)--mode=[How to serve.]:mode:(auto manual)" in lines
    assert "1:directory to serve:_directories" in lines
    assert lines[-1] == "W:serve,-q, C:3"


@needsZsh
def test_zshEndToEnd(tmp_path: Path) -> None:
    """
    Install the generated completion function in an interactive zsh (on a
    pseudo-terminal), type a partial option and TAB, and read what zsh
    completed.
    """
    assert ZSH is not None
    bin = tmp_path / "bin"
    functions = tmp_path / "functions"
    bin.mkdir()
    functions.mkdir()
    program = bin / "examplecmd"
    program.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_usage import MainOptions\n"
        "MainOptions().parseOptions()\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    (functions / "_examplecmd").write_text(completionScript("examplecmd", "zsh"))
    driver = (
        "zmodload zsh/zpty\n"
        f"zpty -b z 'PATH={bin}:$PATH TERM=dumb zsh -f -i'\n"
        f'zpty -w z \'PS1="> "; fpath=({functions} $fpath); '
        "autoload -U compinit; compinit -u; setopt nobeep'\n"
        "zpty -n -w z $'examplecmd serve --mo\\t'\n"
        # Blocks until zsh has completed the option (or the timeout hits).
        "zpty -r -m z out '*--mode=*'\n"
        'print -r -- "${out##*examplecmd}"\n'
        "zpty -d z\n"
    )
    result = subprocess.run(
        [ZSH, "-f", "-c", driver], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().endswith("serve --mode=")
