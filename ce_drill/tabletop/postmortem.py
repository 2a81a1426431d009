"""A post-mortem draft in the manual's own template (事后复盘 › 复盘模板), filled in from an exercise.

Everything the exercise knows is written in; what only people can know —
impact on users, owners and due dates of action items — is left as a
``[待填写]`` placeholder, never invented.
"""

from __future__ import annotations

from ce_drill.tabletop.exercise import Played
from ce_drill.tabletop.verdicts import Verdict
from sim.units import format_duration

TODO = "[待填写]"


def _fd(seconds: float) -> str:
    return format_duration(round(seconds))


def draft(played: Played, verdicts: list[Verdict]) -> str:
    tl, scn = played.timeline, played.scenario
    times = [tl.when(e)[0] for e in tl.events]
    started, last = min(times), max(times)
    recovered = tl.first("recovered")
    restored = None if recovered is None else (tl.when(recovered)[0] - started).total_seconds()
    lines = [
        "# Claude Enhancer 5.1 事故复盘报告",
        f"## Incident Post-Mortem: {tl.incident}",
        "",
        "> 草稿：由 ce-drill 桌面演练生成。[待填写] 处需由事故指挥官补充。",
        "",
        "### 事故概要",
        f"- **事故ID**：{tl.incident}",
        f"- **事故标题**：{scn.title}",
        f"- **发生时间**：{started:%Y-%m-%d %H:%M:%S} UTC",
        f"- **持续时间**：{_fd((last - started).total_seconds())}",
        f"- **影响级别**：{played.declared_severity}"
        + (
            ""
            if played.declared_severity == played.expected_severity
            else f"（手册定级应为 {played.expected_severity}）"
        ),
        f"- **影响用户**：{TODO}",
        "",
        "### 时间线",
        "",
        "| 时间 | 事件 | 负责人 |",
        "|------|------|--------|",
    ]
    for event in tl.events:
        moment = tl.when(event)[0]
        what = event.kind + (f"：{event.text}" if event.text else "")
        lines.append(f"| {moment:%H:%M} | {what} | {event.by or '-'} |")
    lines += [
        "",
        "### 根本原因分析",
        "",
        "#### 直接原因",
        scn.root_cause,
        "",
        "#### 根本原因",
        f"1. {TODO}",
        "",
        "### 影响分析",
        "",
        f"- **服务不可用**：{'未恢复' if restored is None else _fd(restored)}",
        f"- **数据完整性**：{TODO}",
        f"- **用户体验**：{TODO}",
        "",
        "### 做得好的地方",
        "",
    ]
    met = [v for v in verdicts if v.status == "met"]
    lines += [f"- {v.promise}：{v.measured}（目标 {v.target}）" for v in met] or ["- （无）"]
    lines += ["", "### 需要改进的地方", ""]
    # A promise that never fell due was neither kept nor missed.
    missed = [v for v in verdicts if v.status in ("broken", "not_evidenced")]
    for v in missed:
        why = "未达成" if v.status == "broken" else "无记录可证"
        lines.append(f"- {v.promise}：{v.measured}（目标 {v.target}，{why}；手册 L{v.source.first_line}）")
    if played.declared_severity != played.expected_severity:
        lines.append(f"- 定级为 {played.declared_severity}，手册定级为 {played.expected_severity}")
    if not missed:
        lines.append("- （无）")
    lines += ["", "### 行动项", ""]
    for v in [v for v in verdicts if v.status == "broken"]:
        lines += [
            f"- [ ] **{TODO}优先级**：改进「{v.promise}」（本次 {v.measured}，目标 {v.target}）",
            f"  - **负责人**：{TODO}",
            f"  - **截止日期**：{TODO}",
            f"  - **验收标准**：{TODO}",
        ]
    if lines[-1] == "":
        lines.append("- （无）")
    lines += ["", "---", "", f"**报告作者**：{TODO}（事故指挥官）", f"**审核人员**：{TODO}", ""]
    return "\n".join(lines)
