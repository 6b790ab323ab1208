"""
The POSIX process steps of the ``torsion`` command: daemonizing, changing
root and dropping privileges.
"""

from __future__ import annotations

import importlib
import os

from torsion.application.runner import ExitStatus

__all__ = ["PRELOAD_BEFORE_CHROOT", "changeRoot", "daemonize", "dropPrivileges"]

#: Modules imported before changing root, since the code they hold is
#: often imported on first use, when the new root no longer contains it.
PRELOAD_BEFORE_CHROOT = (
    "torsion.internet.tcp",
    "torsion.internet.unix",
    "torsion.internet.udp",
    "torsion.internet.process",
    "torsion.internet.address",
    "torsion.logger._json",
    "encodings.idna",
    "encodings.ascii",
    "encodings.latin_1",
)


def daemonize(umask: int | None = None) -> None:
    """
    Detach from the terminal: fork, start a new session, fork again (so the
    process can never reacquire a terminal), change to ``/``, set the umask
    (``0o077`` unless given) and point standard input, output and error at
    ``/dev/null``.  The parents exit at once.

    :param umask: the umask to set.
    """
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    os.umask(0o077 if umask is None else umask)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def changeRoot(directory: str) -> None:
    """
    Change the root directory and go there.

    :param directory: the new root.
    :raises torsion.application.app.CommandError: if it cannot be done.
    """
    from torsion.application.app import CommandError

    for name in PRELOAD_BEFORE_CHROOT:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        os.chroot(directory)
        os.chdir("/")
    except OSError as e:
        raise CommandError(
            f"cannot chroot to {directory}: {e.strerror or e}", ExitStatus.EX_NOPERM
        )


def dropPrivileges(uid: int | None, gid: int | None) -> None:
    """
    Switch to ``gid`` and then ``uid`` (dropping supplementary groups when
    running as root), after the privileged ports are bound.

    :param uid: the user id, or ``None`` to keep it.
    :param gid: the group id, or ``None`` to keep it.
    :raises torsion.application.app.CommandError: if the switch is not
        permitted.
    """
    from torsion.application.app import CommandError

    try:
        if gid is not None and gid != os.getgid():
            if os.geteuid() == 0:
                os.setgroups([gid])
            os.setgid(gid)
        if uid is not None and uid != os.getuid():
            if os.geteuid() == 0 and gid is None:
                import pwd

                try:
                    entry = pwd.getpwuid(uid)
                except KeyError:
                    os.setgroups([])
                else:
                    os.initgroups(entry.pw_name, entry.pw_gid)
                    os.setgid(entry.pw_gid)
            os.setuid(uid)
    except OSError as e:
        raise CommandError(
            f"cannot switch to uid={uid} gid={gid}: {e.strerror or e}",
            ExitStatus.EX_NOPERM,
        )
