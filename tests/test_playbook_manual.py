"""The playbook says what the manual says: every number, text and date, checked at its cited lines.

Each playbook entry cites the manual lines it comes from.  These tests read
those lines of the shipped manual and require every number of the entry to be
written there (in the manual's own units), and every line of the manual that
states a number to be claimed by some entry — so nothing was dropped and
nothing was made up.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sim.playbook import Playbook
from tests.conftest import MutatePlaybook

_UNITS = {
    "ms": 0.001, "s": 1.0, "秒": 1.0, "min": 60.0, "分钟": 60.0, "h": 3600.0, "小时": 3600.0,
    "天": 86400.0, "周": 7 * 86400.0, "个月": 30 * 86400.0, "%": 0.01,
}  # fmt: skip
_QUANTITY = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*(ms|min|分钟|小时|个月|秒|天|周|%|s|h)?(?![A-Za-z])")
# Tokens that contain digits but state no quantity: severity names, ids, dates, clock times,
# phone numbers, versions, list numbering, URLs and code.
_NOT_QUANTITIES = [
    r"[A-Za-z_]+\d+[A-Za-z_\d]*(\.\d+)*",  # identifiers such as P1, p95_response_time, v1.0
    r"95分位",  # the percentile, carried in the field name (api_response_time_p95)
    r"P[1-9](?!\d)",
    r"INC-\d{4}-\d{3}",
    r"\d{4}-\d{2}-\d{2}",
    r"\d{1,2}:\d{2}(:\d{2})?",
    r"\+?1-\d{3}-[\dA-Z-]+",
    r"v\d+(\.\d+)?",
    r"Enhancer\s*5\.\d",
    r"5\.\d版本",
    r"version=5\.\d",
    r"https?://\S+",
    r"\[具体措施\d\]",
    r"24/7",
]


def _clean(text: str) -> str:
    text = text.replace("**", "")
    text = re.sub(r"^\s*(#+\s*)?\d+\.\s", "", text)  # list and heading numbering
    for pattern in _NOT_QUANTITIES:
        text = re.sub(pattern, " ", text)
    text = text.replace("每小时", "每1小时")  # "every hour" states a number without a digit
    # A range "20-50%" or "1-2小时" gives both ends the unit.
    return re.sub(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\s*(%|小时|分钟)", r"\1\3 \2\3", text)


def quantities(text: str) -> set[float]:
    """Every number of a manual line, both as written and converted to seconds or ratios."""
    text = _clean(text)
    found: set[float] = set()
    matches = list(_QUANTITY.finditer(text))
    for match in matches:
        number = float(match.group(1).replace(",", ""))
        found.add(number)
        if match.group(2):
            found.add(number * _UNITS[match.group(2)])
    # Compound durations such as "2小时15分钟".
    for a, b in itertools.pairwise(matches):
        if a.group(2) and b.group(2) and a.end() == b.start():
            found.add(float(a.group(1)) * _UNITS[a.group(2)] + float(b.group(1)) * _UNITS[b.group(2)])
    return found


def _leaves(node: Any, ref: dict[str, Any] | None, path: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    if isinstance(node, dict):
        ref = node.get("source", ref) if isinstance(node.get("source"), dict) else ref
        for key, value in node.items():
            if key not in ("source", "runbook") and not key.endswith("_source"):
                yield from _leaves(value, ref, f"{path}.{key}" if path else key)
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            yield from _leaves(item, ref, f"{path}[{i}]")
    elif ref is not None:
        yield path, node, ref


def _lines(manual: list[str], ref: dict[str, Any]) -> list[str]:
    return manual[ref["first_line"] - 1 : ref["last_line"]]


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def unwritten_numbers(pb: Playbook, manual: list[str]) -> tuple[list[str], int]:
    """Numbers of the playbook that its cited manual lines do not state, and how many were checked."""
    bad, checked = [], 0
    for path, value, ref in _leaves(pb.model_dump(), None, ""):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        written = set().union(*(quantities(line) for line in _lines(manual, ref)))
        if not any(_close(value, q) for q in written):
            bad.append(f"{path} = {value} is not written at manual L{ref['first_line']}-{ref['last_line']}")
        checked += 1
    return bad, checked


def test_every_number_of_the_playbook_is_written_at_its_cited_lines(
    playbook: Playbook, manual_lines: list[str]
) -> None:
    bad, checked = unwritten_numbers(playbook, manual_lines)
    assert bad == []
    assert checked > 150


def test_a_number_that_drifted_from_the_manual_is_caught(
    mutated_playbook: MutatePlaybook, manual_lines: list[str]
) -> None:
    def edit(data: Any) -> None:
        data["severities"][0]["rto"] = "16m"
        data["detection_rules"][2]["threshold"] = "2500ms"

    bad, _ = unwritten_numbers(Playbook.load(mutated_playbook(edit)), manual_lines)
    assert bad == [
        "severities[0].rto_s = 960.0 is not written at manual L20-30",
        "detection_rules[2].threshold = 2.5 is not written at manual L152-153",
    ]


def test_every_text_and_date_of_the_playbook_is_verbatim_at_its_cited_lines(
    playbook: Playbook, manual_lines: list[str]
) -> None:
    checked = 0
    for path, value, ref in _leaves(playbook.model_dump(), None, ""):
        key = path.rsplit(".", 1)[-1]
        if key in ("text", "acceptance", "at", "definition") or isinstance(value, dt.date):
            needle = value.isoformat()[:10] if isinstance(value, dt.date) else str(value)
            lines = "\n".join(_lines(manual_lines, ref)).replace("**", "")
            assert needle in lines, (
                f"{path} = {needle!r} is not at manual L{ref['first_line']}-{ref['last_line']}"
            )
            checked += 1
    assert checked > 100


def test_every_cited_section_is_where_the_lines_are(playbook: Playbook, manual_lines: list[str]) -> None:
    """A reference's section path starts at the chapter holding its lines, then follows its headings."""
    chapters: list[tuple[int, str]] = []
    headings: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(manual_lines, start=1):
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#"):
            headings.append((number, line.lstrip("#").strip()))
            if line.startswith("## ") and not fenced:
                chapters.append((number, line[3:].strip()))
    for path, ref in playbook.sources():
        assert 1 <= ref.first_line <= ref.last_line <= len(manual_lines), path
        if ref.section == "文档信息":  # the unheaded footer
            continue
        parts = ref.section.split(" › ")
        chapter = [text for line, text in chapters if line <= ref.first_line][-1]
        assert parts[0] in chapter, f"{path}: {ref} is in chapter {chapter!r}"
        position = 0
        for part in parts[1:]:
            word = part.split(" ")[0]
            later = [
                line for line, text in headings if line > position and line <= ref.last_line and word in text
            ]
            assert later, f"{path}: {ref}: no heading {part!r} in order before L{ref.last_line}"
            position = later[0]


# Lines that state numbers which are not promises: how-to commands, message template
# bodies (their promises are captured in communication.template_promises), contact data.
_NOT_PROMISES = {
    *range(255, 292), *range(303, 316), *range(330, 353), *range(363, 380),  # runbook commands
    *range(405, 426),  # rollback commands
    *range(465, 476), *range(488, 504), *range(514, 533), *range(544, 558),  # templates
    *range(641, 650), *range(653, 657),  # post-mortem template header
    *range(793, 800), *range(830, 1004), *range(1086, 1147),  # links, prevention lists, contacts
}  # fmt: skip


# The manual omits the unit here; the comment on the same line says "超过5秒".
_UNIT_HINTS = {391: 0.001}


def test_every_number_the_manual_promises_is_in_the_playbook(
    playbook: Playbook, manual_lines: list[str]
) -> None:
    claimed: dict[int, set[float]] = {}
    for _, value, ref in _leaves(playbook.model_dump(), None, ""):
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found = {float(value)}
        elif isinstance(value, str):  # a number quoted inside a text, e.g. "API返回500错误"
            found = quantities(value)
        else:
            continue
        for line in range(ref["first_line"], ref["last_line"] + 1):
            claimed.setdefault(line, set()).update(found)
    missing = []
    for number, text in enumerate(manual_lines, start=1):
        if number in _NOT_PROMISES or number <= 16:  # title and table of contents
            continue
        for label, values in _raw_quantities(text, _UNIT_HINTS.get(number)):
            if not any(_close(v, c) for v in values for c in claimed.get(number, set())):
                missing.append(f"L{number}: {label} in {text.strip()!r}")
    assert not missing, "numbers the playbook does not hold:\n" + "\n".join(missing)


def _raw_quantities(text: str, hint: float | None = None) -> list[tuple[str, set[float]]]:
    """Each quantity of a line as (as written, the values it may stand for); compounds merged."""
    out: list[tuple[str, set[float]]] = []
    previous: re.Match[str] | None = None
    for m in _QUANTITY.finditer(_clean(text)):
        number = float(m.group(1).replace(",", ""))
        unit = m.group(2)
        values = {number, number * _UNITS[unit]} if unit else {number}
        if hint is not None and not unit:
            values.add(number * hint)
        if previous is not None and previous.group(2) and unit and previous.end() == m.start():
            label, _ = out.pop()
            seconds = float(previous.group(1)) * _UNITS[previous.group(2)] + number * _UNITS[unit]
            out.append((label + m.group(0), {seconds}))
        else:
            out.append((m.group(0), values))
        previous = m
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**RTO: 15分钟 | RPO: 5分钟**", {15.0, 900.0, 5.0, 300.0}),
        ("claude_enhancer:p95_response_time > 2000ms (5分钟)", {2000.0, 2.0, 5.0, 300.0}),
        ("- **持续时间**：2小时15分钟", {2.0, 7200.0, 15.0, 900.0, 8100.0}),
        ("| T+1h | 发布恢复通知 |", {1.0, 3600.0}),
        ("- P1事故：立即发送", set()),
        ("- **P3事故**：每小时更新", {1.0, 3600.0}),
        ("约8,500名用户（约85%）", {8500.0, 85.0, 0.85}),
        ("**文档版本**：v1.0", set()),
    ],
)
def test_the_manual_reader_itself(text: str, expected: set[float]) -> None:
    assert quantities(text) == expected
