"""
Interfaces of the jelly serializer.
"""

from typing import Any

from zope.interface import Interface

__all__ = ["IJellyable", "IUnjellyable"]


class IJellyable(Interface):
    """
    An object that writes its own jelly expression.
    """

    def jellyFor(jellier: Any) -> Any:
        """
        :param jellier: the ``Jellier`` at work; its ``invoker`` is the PB
            broker when jellying for one.
        :return: the s-expression (a list whose first element is the type
            name as bytes).
        """


class IUnjellyable(Interface):
    """
    An object rebuilt from jelly that takes its state itself.
    """

    def setStateFor(unjellier: Any, state: Any) -> None:
        """
        :param unjellier: the ``Unjellier`` at work.
        :param state: the received state, already unjellied.
        """
