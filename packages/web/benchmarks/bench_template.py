"""
Flattening speed of torsion.web.template against twisted.web.template.

Two documents, each a 1,000-row table of five cells:

- "python": the table built from tags in Python;
- "template": an ``Element`` whose XML template has a row renderer that
  clones the row and fills its slots once per row.

Each is flattened with ``flattenString`` (everything synchronous), best of N
runs.  A floor (the Python table written with f-strings and ``html.escape``,
no document tree) shows what any tree-based writer costs.  Twisted is
measured only if it is importable: run with the benchmark environment's
interpreter::

    /work/benchvenv/bin/python packages/web/benchmarks/bench_template.py
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

ROWS = 1000
RUNS = 15
NAMESPACE = "http://twistedmatrix.com/ns/twisted.web.template/0.1"

TEMPLATE = f"""<table xmlns:t="{NAMESPACE}">
  <thead><tr><th>id</th><th>name</th><th>mail</th><th>score</th><th>note</th></tr></thead>
  <tbody>
    <tr t:render="rows" class="row">
      <td><t:slot name="id" /></td>
      <td><a><t:attr name="href">/users/<t:slot name="id" /></t:attr
        ><t:slot name="name" /></a></td>
      <td><t:slot name="mail" /></td>
      <td><t:slot name="score" /></td>
      <td><t:slot name="note" /></td>
    </tr>
  </tbody>
</table>"""

DATA = [
    (str(i), f"user {i}", f"user{i}@example.com", str(i * 7 % 100), "a & b < c")
    for i in range(ROWS)
]


def pythonTable(template: ModuleType) -> Any:
    tags = template.tags
    return tags.table(
        tags.thead(
            tags.tr([tags.th(h) for h in ("id", "name", "mail", "score", "note")])
        ),
        tags.tbody(
            [
                tags.tr(class_="row")(
                    tags.td(i),
                    tags.td(tags.a(href="/users/" + i)(name)),
                    tags.td(mail),
                    tags.td(score),
                    tags.td(note),
                )
                for i, name, mail, score, note in DATA
            ]
        ),
    )


def templateTable(template: ModuleType) -> Any:
    class Table(template.Element):  # type: ignore[name-defined,misc]
        loader = template.XMLString(TEMPLATE)

        @template.renderer  # type: ignore[untyped-decorator]
        def rows(self, request: object, tag: Any) -> Any:
            for i, name, mail, score, note in DATA:
                yield tag.clone().fillSlots(
                    id=i, name=name, mail=mail, score=score, note=note
                )

    return Table()


def floorTable() -> bytes:
    """
    The same table as ``pythonTable``, written with f-strings and
    ``html.escape``: the least work any escaping HTML writer can do.
    """
    escape = html.escape
    head = "".join(f"<th>{h}</th>" for h in ("id", "name", "mail", "score", "note"))
    rows = "".join(
        f'<tr class="row"><td>{escape(i, False)}</td>'
        f'<td><a href="/users/{escape(i)}">{escape(name, False)}</a></td>'
        f"<td>{escape(mail, False)}</td><td>{escape(score, False)}</td>"
        f"<td>{escape(note, False)}</td></tr>"
        for i, name, mail, score, note in DATA
    )
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>".encode()
    )


def once(flattenString: Callable[[Any, Any], Any], root: Any) -> float:
    results: list[Any] = []
    start = time.perf_counter()
    flattenString(None, root).addBoth(results.append)
    elapsed = time.perf_counter() - start
    if not isinstance(results[0], bytes):
        raise RuntimeError(f"flattening failed: {results[0]}")
    return elapsed


def main() -> None:
    from torsion.web import template as torsion_template

    anchors: list[tuple[str, ModuleType]] = [("torsion", torsion_template)]
    try:
        from twisted.web import template as twisted_template  # type: ignore[import-not-found]
    except ImportError:
        print("(Twisted is not importable: torsion alone)", file=sys.stderr)
    else:
        anchors.append(("twisted", twisted_template))

    print(f"{'document':<10} {'library':<8} {'best ms':>9} {'ratio':>7}")
    for label, build in (("python", pythonTable), ("template", templateTable)):
        roots = {name: build(module) for name, module in anchors}
        results = {name: float("inf") for name, _ in anchors}
        # Runs alternate between the libraries, so that a busy machine
        # slows both alike; the best run of each counts.
        for _ in range(RUNS):
            for name, module in anchors:
                seconds = once(module.flattenString, roots[name])
                results[name] = min(results[name], seconds)
        if label == "python":
            # The floor: no document tree at all.
            floor = float("inf")
            for _ in range(RUNS):
                start = time.perf_counter()
                floorTable()
                floor = min(floor, time.perf_counter() - start)
            results["floor"] = floor
        for name, seconds in results.items():
            ratio = ""
            if name != "torsion":
                ratio = f"{seconds / results['torsion']:.2f}x"
            print(f"{label:<10} {name:<8} {seconds * 1000:>9.2f} {ratio:>7}")
    print("ratio: anchor time / torsion time (above 1: torsion is faster)")


if __name__ == "__main__":
    main()
