"""
The reactor, its transports (TCP, UDP, Unix sockets, TLS, processes) and the
Deferred machinery that carries results not computed yet.
"""
