"""
Perspective Broker and its serialization layers.

- ``torsion.spread.banana``: the wire encoding of nested lists of ints,
  floats and byte strings, with bounded sizes.
- ``torsion.spread.jelly``: object graphs to banana-ready expressions and
  back, rebuilding only allowed types.
- ``torsion.spread.pb``: remote references, copies, caches and logins.
- ``torsion.spread.flavors``: the kinds of objects PB sends
  (``Referenceable``, ``Copyable``, ``Cacheable``, ...), also found in
  ``pb``.
"""
