"""Search code sets, codes, data elements, business terms and mappings for a text.

A hit is exact when the text is the whole code, name or term; exact hits come first.
Matching ignores case (for the English names) and surrounding spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

from govlake.standards.model import Registry


@dataclass(frozen=True)
class Hit:
    kind: str  # 代码 code · 代码集 code set · 数据元 element · 术语 term · 映射 mapping
    id: str  # code set id, element id, term id or mapping id
    code: str  # the code (for codes and mappings), else ""
    name: str
    detail: str
    exact: bool


def _matches(needle: str, *texts: str | None) -> tuple[bool, bool]:
    """(matches, exactly)."""
    found = exact = False
    for text in texts:
        if not text:
            continue
        folded = text.casefold()
        if needle == folded:
            return True, True
        if needle in folded:
            found = True
    return found, exact


def search(registry: Registry, text: str, limit: int | None = None) -> list[Hit]:
    needle = text.strip().casefold()
    if not needle:
        return []
    hits: list[Hit] = []
    for code_set in registry.code_sets.values():
        found, exact = _matches(
            needle,
            code_set.id,
            code_set.name_zh,
            code_set.name_en,
            code_set.standard,
            code_set.edition,
        )
        if found:
            hits.append(
                Hit("代码集 code set", code_set.id, "", code_set.name_zh, code_set.edition, exact)
            )
        for value in code_set.values:
            found, exact = _matches(needle, value["code"], value["name"], value.get("name_en"))
            if found:
                edition = code_set.edition if len(code_set.edition) <= 30 else code_set.standard
                detail = f"{edition} · {code_set.name_zh}"
                if value.get("valid_from"):
                    years = f"{value['valid_from']}-{value.get('valid_to', '')}"
                    detail += f" · {years} {value.get('status', '')}".rstrip()
                hits.append(
                    Hit("代码 code", code_set.id, value["code"], value["name"], detail, exact)
                )
    for element in registry.elements.values():
        found, exact = _matches(
            needle, element.id, element.name_zh, element.name_en, element.definition
        )
        if found:
            hits.append(
                Hit(
                    "数据元 element",
                    element.id,
                    "",
                    element.name_zh,
                    element.domain() or element.type,
                    exact,
                )
            )
    for term in registry.terms.values():
        found, exact = _matches(
            needle, term.id, term.term, term.term_en, *term.synonyms, term.definition
        )
        if found:
            hits.append(Hit("术语 term", term.id, "", term.term, ", ".join(term.elements), exact))
    for mapping in registry.mappings.values():
        for row in mapping.rows:
            found, exact = _matches(needle, row.local_code)
            if found and exact:
                hits.append(
                    Hit(
                        "映射 mapping",
                        mapping.id,
                        row.local_code,
                        f"→ {row.standard_code}",
                        row.code_set,
                        exact,
                    )
                )
    hits.sort(key=lambda h: not h.exact)  # stable: exact first, then file order
    return hits[:limit] if limit else hits
