"""Label selectors (Kubernetes semantics): an empty list selects everything; several selectors are OR-ed."""

from __future__ import annotations

from bgplb.model.objects import Labels, Selector


def matches(selector: Selector, labels: Labels) -> bool:
    have = dict(labels)
    if any(have.get(k) != v for k, v in selector.match_labels):
        return False
    for e in selector.match_expressions:
        present = e.key in have
        ok = {
            "In": present and have.get(e.key) in e.values,
            "NotIn": not present or have.get(e.key) not in e.values,
            "Exists": present,
            "DoesNotExist": not present,
        }[e.operator]
        if not ok:
            return False
    return True


def selects(selectors: tuple[Selector, ...], labels: Labels) -> bool:
    return not selectors or any(matches(s, labels) for s in selectors)
