"""
The application framework: services that start and stop together
(``torsion.application.service``), services that listen, connect or repeat
(``torsion.application.internet``), endpoint strings as services
(``torsion.application.strports``) and the machinery behind the ``torsion``
command (``torsion.application.app``, ``torsion.application.runner``).
"""
