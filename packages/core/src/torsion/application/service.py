"""
Services: long-running parts of a program that start and stop together.

A ``Service`` has a name, an optional parent, and three hooks:
``privilegedStartService`` (run before the process gives up root, to bind
low ports), ``startService`` and ``stopService`` (which may return a
``Deferred`` when stopping takes time).  A ``MultiService`` groups services:
its children start in the order they were added and stop in reverse order.

An ``Application`` is what a ``.tac`` file defines for the ``torsion -y``
command: its ``IService`` component is the top ``MultiService``, and its
``IProcess`` component carries the uid and gid to run as::

    from torsion.application import service, strports
    from torsion.internet.protocol import Factory
    from torsion.protocols.wire import Echo

    application = service.Application("echo")
    strports.service("tcp:9000", Factory.forProtocol(Echo)).setServiceParent(
        application
    )
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zope.interface import Attribute, Interface, implementer

from torsion.internet import defer
from torsion.plugin import IPlugin
from torsion.python import components
from torsion.python.failure import Failure

__all__ = [
    "Application",
    "IProcess",
    "IService",
    "IServiceCollection",
    "IServiceMaker",
    "MultiService",
    "Process",
    "Service",
    "ServiceMaker",
    "loadApplication",
]


class IServiceMaker(Interface):
    """
    A service plugin for the ``torsion`` command: ``torsion <tapname>
    [options]`` parses the command line with ``options`` and runs the
    service ``makeService`` builds.

    Register a provider under the entry-point group ``torsion.plugins``.
    """

    tapname = Attribute("The plugin's command name, such as ``'echo'``.")
    description = Attribute("A one-line description shown by ``torsion --help``.")
    options = Attribute("A ``torsion.python.usage.Options`` subclass.")

    def makeService(options: Any) -> IService:
        """
        Build the service to run.

        :param options: a parsed instance of ``options``.
        :return: the service.
        """


@implementer(IServiceMaker, IPlugin)
class ServiceMaker:
    """
    An ``IServiceMaker`` that imports its module only when the plugin is
    run, so that ``torsion --help`` stays fast.  The module must define
    ``Options`` and ``makeService(options)``.
    """

    def __init__(self, name: str, module: str, description: str, tapname: str) -> None:
        """
        :param name: a human-readable name.
        :param module: the dotted name of the module with ``Options`` and
            ``makeService``.
        :param description: the one-line description.
        :param tapname: the command name.
        """
        self.name = name
        self.module = module
        self.description = description
        self.tapname = tapname

    def _load(self) -> Any:
        import importlib

        return importlib.import_module(self.module)

    @property
    def options(self) -> Any:
        """
        The module's ``Options`` class.
        """
        return self._load().Options

    def makeService(self, options: Any) -> IService:
        """
        Call the module's ``makeService``.

        :param options: the parsed options.
        :return: the service.
        """
        service: IService = self._load().makeService(options)
        return service


class IService(Interface):
    """
    A service: something that runs while the program runs.
    """

    name = Attribute("The service's name (a ``str``) or ``None``.")
    running = Attribute("Whether the service is running.")
    parent = Attribute("The ``IServiceCollection`` holding it, or ``None``.")

    def setName(name: str) -> None:
        """
        Name the service.

        :param name: the name.
        :raises RuntimeError: if it already has a parent.
        """

    def setServiceParent(parent: Any) -> None:
        """
        Add the service to ``parent`` (an ``IServiceCollection`` or anything
        adaptable to one, such as an ``Application``).

        :param parent: the new parent.
        """

    def disownServiceParent() -> Any:
        """
        Remove the service from its parent.

        :return: what the parent's ``removeService`` returned (possibly a
            ``Deferred``).
        """

    def privilegedStartService() -> None:
        """
        Do what needs privileges (bind a low port) before the process drops
        them.
        """

    def startService() -> None:
        """
        Start the service.
        """

    def stopService() -> Any:
        """
        Stop the service.

        :return: ``None``, or a ``Deferred`` firing once it has stopped.
        """


class IServiceCollection(Interface):
    """
    A service holding other services.
    """

    def getServiceNamed(name: str) -> IService:
        """
        :param name: a child's name.
        :return: the child.
        :raises KeyError: if there is none with that name.
        """

    def __iter__() -> Iterator[IService]:
        """
        Iterate over the children, in the order they were added.
        """

    def addService(service: IService) -> None:
        """
        Add a child; it is started at once if the collection runs.

        :param service: the child.
        :raises RuntimeError: if a child of that name exists.
        """

    def removeService(service: IService) -> Any:
        """
        Remove a child, stopping it if the collection runs.

        :param service: the child.
        :return: ``None`` or a ``Deferred`` firing once it has stopped.
        """


class IProcess(Interface):
    """
    Process-wide settings of an application.
    """

    processName = Attribute("The process name, or ``None``.")
    uid = Attribute("The user id to run as, or ``None``.")
    gid = Attribute("The group id to run as, or ``None``.")


@implementer(IService)
class Service:
    """
    A base service that does nothing but keep its state; subclass it and
    extend ``startService`` and ``stopService`` (calling the base methods).

    :ivar name: the name, or ``None``.
    :ivar parent: the parent collection, or ``None``.
    :ivar running: whether it runs.
    """

    name: str | None = None
    parent: Any = None
    running: bool = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} running={self.running}>"

    def setName(self, name: str) -> None:
        """
        Name the service.

        :param name: the name.
        :raises RuntimeError: if it already has a parent (the parent indexes
            it by name).
        """
        if self.parent is not None:
            raise RuntimeError("cannot change the name of a service with a parent")
        self.name = name

    def setServiceParent(self, parent: Any) -> None:
        """
        Add this service to ``parent``, leaving any previous parent.

        :param parent: an ``IServiceCollection`` or something adaptable to
            one (such as an ``Application``).
        """
        if self.parent is not None:
            self.disownServiceParent()
        collection = IServiceCollection(parent, parent)
        self.parent = collection
        try:
            collection.addService(self)
        except BaseException:
            self.parent = None
            raise

    def disownServiceParent(self) -> Any:
        """
        Leave the parent.

        :return: what the parent's ``removeService`` returned.
        """
        parent, self.parent = self.parent, None
        if parent is None:
            return None
        return parent.removeService(self)

    def privilegedStartService(self) -> None:
        """
        Nothing to do by default.
        """

    def startService(self) -> None:
        """
        Mark the service as running.
        """
        self.running = True

    def stopService(self) -> Any:
        """
        Mark the service as stopped.

        :return: ``None``.
        """
        self.running = False
        return None


@implementer(IServiceCollection)
class MultiService(Service):
    """
    A service made of child services: children start in the order they were
    added and stop in reverse order; ``stopService`` waits for every
    child's ``Deferred``.
    """

    def __init__(self) -> None:
        self.services: list[IService] = []
        self.namedServices: dict[str, IService] = {}

    def privilegedStartService(self) -> None:
        """
        Run every child's ``privilegedStartService``, in order.
        """
        Service.privilegedStartService(self)
        for service in self:
            service.privilegedStartService()

    def startService(self) -> None:
        """
        Start every child, in order.
        """
        Service.startService(self)
        for service in self:
            service.startService()

    def stopService(self) -> defer.Deferred[None]:
        """
        Stop every child, last added first.

        :return: a ``Deferred`` firing once every child has stopped; it
            fails with the first failure if a child failed to stop, after
            all of them were asked.
        """
        Service.stopService(self)
        waiting: list[defer.Deferred[Any]] = []
        for service in reversed(list(self)):
            waiting.append(defer.maybeDeferred(service.stopService))
        result = defer.DeferredList(waiting, consumeErrors=True)

        def firstFailure(results: list[tuple[bool, Any]]) -> Failure | None:
            for succeeded, value in results:
                if not succeeded:
                    failure: Failure = value
                    return failure
            return None

        return result.addCallback(firstFailure)

    def getServiceNamed(self, name: str) -> IService:
        """
        :param name: a child's name.
        :return: the child.
        :raises KeyError: if there is none with that name.
        """
        return self.namedServices[name]

    def __iter__(self) -> Iterator[IService]:
        return iter(list(self.services))

    def __len__(self) -> int:
        return len(self.services)

    def addService(self, service: IService) -> None:
        """
        Add a child; it is started at once if this service runs.

        :param service: the child.
        :raises RuntimeError: if a child of that name exists already.
        """
        if service.name is not None:
            if service.name in self.namedServices:
                raise RuntimeError(f"cannot have two services named {service.name!r}")
            self.namedServices[service.name] = service
        self.services.append(service)
        if self.running:
            # A late child gets both steps it missed.
            service.privilegedStartService()
            service.startService()

    def removeService(self, service: IService) -> Any:
        """
        Remove a child, stopping it if this service runs.

        :param service: the child.
        :return: ``None``, or the child's ``stopService`` result.
        :raises ValueError: if ``service`` is not a child.
        """
        if service.name is not None:
            self.namedServices.pop(service.name, None)
        self.services.remove(service)
        if self.running:
            return service.stopService()
        return None


@implementer(IProcess)
class Process:
    """
    The ``IProcess`` component of an ``Application``.
    """

    processName: str | None = None

    def __init__(self, uid: int | None = None, gid: int | None = None) -> None:
        """
        :param uid: the user id to run as, or ``None`` to keep it.
        :param gid: the group id to run as, or ``None`` to keep it.
        """
        self.uid = uid
        self.gid = gid


def Application(
    name: str, uid: int | None = None, gid: int | None = None
) -> components.Componentized:
    """
    Create the application object a ``.tac`` file defines.

    ``IService(application)`` is its top ``MultiService`` (named ``name``),
    ``IServiceCollection(application)`` the same object, and
    ``IProcess(application)`` holds ``uid`` and ``gid``.

    :param name: the application's name.
    :param uid: the user id to run as, or ``None``.
    :param gid: the group id to run as, or ``None``.
    :return: the application.
    """
    application = components.Componentized()
    top = MultiService()
    top.setName(name)
    application.setComponent(IServiceCollection, top)
    application.setComponent(IService, top)
    process = Process(uid, gid)
    process.processName = name
    application.setComponent(IProcess, process)
    return application


def loadApplication(path: str) -> Any:
    """
    Run a ``.tac`` file and return the ``application`` it defines.

    :param path: the file.
    :return: the ``application`` object.
    :raises OSError: if the file cannot be read.
    :raises ValueError: if it defines no ``application``.
    """
    with open(path, encoding="utf-8") as f:
        source = f.read()
    namespace: dict[str, Any] = {"__file__": path, "__name__": "__torsion_tac__"}
    exec(compile(source, path, "exec"), namespace)
    if "application" not in namespace:
        raise ValueError(f"{path} does not define 'application'")
    return namespace["application"]
