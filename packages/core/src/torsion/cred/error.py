"""
Errors raised while logging in through a ``Portal``.
"""

from __future__ import annotations

__all__ = [
    "LoginDenied",
    "LoginFailed",
    "UnauthorizedLogin",
    "UnhandledCredentials",
]


class LoginFailed(Exception):
    """
    The login could not be completed; the base of every login error.
    """


class UnauthorizedLogin(LoginFailed):
    """
    The credentials were not accepted: an unknown user, a wrong password, or
    any other reason a checker refused them.

    Checkers raise this one error for every refusal so that a peer cannot tell
    an unknown user from a wrong password.
    """


class UnhandledCredentials(LoginFailed):
    """
    No checker registered with the portal accepts this kind of credentials.
    """


class LoginDenied(LoginFailed):
    """
    The realm refused to give an avatar for an ID a checker accepted, for
    example because the account is disabled.
    """
