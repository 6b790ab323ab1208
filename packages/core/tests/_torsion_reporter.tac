# A .tac application for test_twistd: it listens (echo) where
# TORSION_TEST_LISTEN says, then connects to the test at TORSION_TEST_REPORT
# and reports its process state as one JSON line; afterwards it obeys
# line commands: "log TEXT" / "warn TEXT" (logged, answered "ok"), "exit".
import json
import os

from torsion.application import service, strports
from torsion.internet import reactor
from torsion.internet.protocol import ClientFactory, Factory
from torsion.logger import Logger
from torsion.protocols.basic import LineReceiver
from torsion.protocols.wire import Echo

log = Logger(namespace="reporter")


def currentUmask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def stdinTarget():
    try:
        return os.readlink("/proc/self/fd/0")
    except OSError:
        # No /proc (inside a chroot, for one).
        return None


def describe(listening):
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "umask": currentUmask(),
        "stdin": stdinTarget(),
        "marker": os.path.exists("/torsion-chroot-marker"),
        "port": listening.getHost().port if listening is not None else None,
    }


class Reporter(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self):
        self.sendLine(json.dumps(describe(self.factory.listening)).encode())

    def lineReceived(self, line):
        command, _, text = line.decode().partition(" ")
        if command == "log":
            log.info("{text}", text=text)
        elif command == "warn":
            log.warn("{text}", text=text)
        elif command == "exit":
            reactor.stop()
            return
        self.sendLine(b"ok")


class ReportService(service.Service):
    def __init__(self, listener):
        self.listener = listener

    def startService(self):
        service.Service.startService(self)
        factory = ClientFactory.forProtocol(Reporter)
        factory.listening = None
        if self.listener is not None:
            factory.listening = self.listener._port
        reactor.connectTCP("127.0.0.1", int(os.environ["TORSION_TEST_REPORT"]), factory)


application = service.Application("reporter")
listener = None
if os.environ.get("TORSION_TEST_LISTEN"):
    listener = strports.service(
        os.environ["TORSION_TEST_LISTEN"], Factory.forProtocol(Echo)
    )
    listener.setServiceParent(application)
ReportService(listener).setServiceParent(application)
