"""
Pluggable authentication shared by every torsion protocol.

A protocol hands a set of credentials to a ``Portal``; the portal asks the
checker registered for that kind of credentials to turn them into an avatar
ID; the ``IRealm`` then turns the avatar ID into the avatar the protocol uses
for the rest of the session.
"""
