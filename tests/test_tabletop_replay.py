"""Replays: verdicts worked out by hand for hand-built timelines, and the manual's own INC-2024-001."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.tabletop.timeline import load_timeline
from ce_drill.tabletop.verdicts import judge
from sim.playbook import Playbook


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "timeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _statuses(playbook: Playbook, path: Path) -> dict[str, tuple[str, str]]:
    return {v.promise: (v.status, v.measured) for v in judge(playbook, load_timeline(path))}


def _replay(*args: str) -> Any:
    return CliRunner().invoke(cli, ["tabletop", "replay", *args])


def test_inc_2024_001_lists_every_promise_it_broke() -> None:
    result = _replay("INC-2024-001", "--json")
    assert result.exit_code == 1
    verdicts = json.loads(result.stdout)["verdicts"]
    broken = {v["promise"]: v["measured"] for v in verdicts if v["verdict"] == "broken"}
    assert broken == {
        "T+5m 确认事故，组建战情室": "8m",  # war room at 14:40, 8 minutes after the 14:32 alert
        "T+30m 完成修复或升级": "38m",  # rollback finished 15:10
        "T+1h 发布恢复通知": "2h13m",  # notice 16:45
        "checklist: 发布恢复通知 within the first 1h": "2h15m",  # from the 14:30 user reports
        "P1 + agent_coordinator RTO: service restored": "1h",  # 14:30 → 15:30, against 10m
        "agent_coordinator Agent协调器 available 99.9 % a month": "1h down",  # over January's 44m38s
    }
    not_evidenced = {v["promise"] for v in verdicts if v["verdict"] == "not_evidenced"}
    assert "P1 status updates every 15m" in not_evidenced
    assert "post-mortem report within 72h of resolution" in not_evidenced  # dated 2024-01-18, no time
    for v in verdicts:
        assert v["manual_lines"][0] >= 1
        assert v["target"]


P2_GOOD = """
incident: INC-T-2
date: 2027-03-02
data_loss: 2m
events:
  - {at: "10:00", kind: alert_fired}
  - {at: "10:03", kind: confirmed, severity: P2}
  - {at: "10:04", kind: commander_assigned}
  - {at: "10:04", kind: impact_assessed}
  - {at: "10:09", kind: investigation_started}
  - {at: "10:10", kind: war_room_open}
  - {at: "10:12", kind: status_page_updated}
  - {at: "10:14", kind: plan_made}
  - {at: "10:20", kind: diagnosis_done}
  - {at: "10:25", kind: fix_attempted}
  - {at: "10:29", kind: status_update}
  - {at: "10:40", kind: recovered}
  - {at: "10:55", kind: fix_verified}
  - {at: "10:58", kind: recovery_notice}
  - {at: "10:58", kind: resolved}
  - {at: "2027-03-03 09:00", kind: postmortem_prepared}
  - {at: "2027-03-04 09:00", kind: postmortem_meeting}
  - {at: "2027-03-04", kind: postmortem_report}
"""


def test_a_p2_that_kept_every_promise(playbook: Playbook, tmp_path: Path) -> None:
    path = _write(tmp_path, P2_GOOD)
    assert _statuses(playbook, path) == {
        "P2 confirmed within its response time": ("met", "3m"),
        "T+5m 评估影响": ("met", "4m"),
        "T+10m 开始调查": ("met", "9m"),
        "T+15m 制定修复计划": ("met", "14m"),
        "T+30m 实施修复": ("met", "25m"),
        "T+1h 验证修复效果": ("met", "55m"),
        # The quick checklist, from the 10:00 alert (L1154-1176).
        "checklist: 确认事故真实性 within the first 5m": ("met", "3m"),
        "checklist: 确定事故级别（P1/P2/P3/P4） within the first 5m": ("met", "3m"),
        "checklist: 启动相应级别的响应流程 within the first 5m": ("met", "3m"),
        "checklist: 通知事故指挥官 within the first 5m": ("met", "4m"),
        "checklist: 组建响应团队 within the first 15m": ("met", "10m"),
        "checklist: 建立战情室通信 within the first 15m": ("met", "10m"),
        "checklist: 开始初步诊断 within the first 15m": ("met", "9m"),
        "checklist: 更新状态页面（P1/P2事故） within the first 15m": ("met", "12m"),
        "checklist: 完成初步根因分析 within the first 30m": ("met", "20m"),
        "checklist: 制定修复或回滚计划 within the first 30m": ("met", "14m"),
        "checklist: 开始实施解决方案 within the first 30m": ("met", "25m"),
        "checklist: 完成修复或回滚操作 within the first 1h": ("met", "40m"),
        "checklist: 验证系统恢复正常 within the first 1h": ("met", "40m"),
        "checklist: 监控系统稳定性 within the first 1h": ("met", "40m"),
        "checklist: 发布恢复通知 within the first 1h": ("met", "58m"),
        # The alert names no rule: the outage may have begun up to 10m (the longest `for`)
        # before 10:00, and 40m + 10m is still within the hour.
        "P2 RTO: service restored": ("met", "40m"),
        "P2 RPO: data lost": ("met", "2m"),
        "P2 status updates every 30m": ("met", "longest gap 29m"),
        "P2 users e-mailed when impact exceeds 1h (影响超过1小时发送)": ("not_due", "40m"),
        "post-mortem preparation within 24h of resolution": ("met", "22h2m"),
        "post-mortem meeting within 48h of resolution": ("met", "46h2m"),
        "post-mortem report within 72h of resolution": ("met", "2027-03-04 (date only)"),
    }
    assert _replay(str(path)).exit_code == 0


def test_late_and_missing_events(playbook: Playbook, tmp_path: Path) -> None:
    text = P2_GOOD.replace('{at: "10:29", kind: status_update}', '{at: "10:35", kind: status_update}')
    text = text.replace('  - {at: "10:09", kind: investigation_started}\n', "")
    text = text.replace("data_loss: 2m\n", "data_loss: 20m\n")
    got = _statuses(playbook, _write(tmp_path, text))
    assert got["P2 status updates every 30m"] == ("broken", "longest gap 35m")
    assert got["T+10m 开始调查"] == ("not_evidenced", "-")
    assert got["P2 RPO: data lost"] == ("broken", "20m")
    assert _replay(str(tmp_path / "timeline.yaml")).exit_code == 1


def test_an_incident_that_never_recovered(playbook: Playbook, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
incident: INC-T-3
date: 2027-03-05
events:
  - {at: "22:00", kind: user_reports}
  - {at: "22:03", kind: confirmed, severity: P1}
  - {at: "22:10", kind: war_room_open}
  - {at: "23:30", kind: escalated}
""",
    )
    got = _statuses(playbook, path)
    assert got["P1 RTO: service restored"] == ("broken", "> 1h30m")
    assert got["P1 RPO: data lost"] == ("not_evidenced", "-")
    assert got["stability watched for 30m before the recovery notice"] == ("not_evidenced", "-")
    assert got["post-mortem report within 72h of resolution"] == ("not_evidenced", "-")
    assert got["T+5m 确认事故，组建战情室"] == ("broken", "10m")


def test_timestamps_that_cross_midnight(playbook: Playbook, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
incident: INC-T-4
date: 2027-03-05
events:
  - {at: "23:55", kind: alert_fired, rule: ServiceDown}
  - {at: "23:58", kind: confirmed, severity: P1}
  - {at: "23:59", kind: war_room_open}
  - {at: "00:04+1d", kind: diagnosis_done}
  - {at: "2027-03-06 00:08", kind: fix_attempted}
  - {at: "00:09+1d", kind: recovered}
""",
    )
    got = _statuses(playbook, path)
    assert got["T+5m 确认事故，组建战情室"] == ("met", "4m")
    assert got["T+10m 初步诊断完成"] == ("met", "9m")
    assert got["T+15m 开始修复/回滚"] == ("met", "13m")
    assert got["P1 RTO: service restored"] == ("met", "15m")  # from 23:54, the alert less its 1m `for`


@pytest.mark.parametrize(
    ("events", "line", "message"),
    [
        ('  - {at: "10:05", kind: alert_fired}\n  - {at: "10:01", kind: confirmed, severity: P2}\n', 6,
         "events[1].at: events out of order: this is earlier than the event before it (got '10:01')"),
        ('  - {at: "10:05", kind: alarm}\n', 5,
         "events[0].kind: input should be 'impact_started', 'user_reports', 'alert_fired', 'confirmed',"),
        ('  - {at: "10:05", kind: confirmed}\n', 5,
         "events[0].severity: a 'confirmed' event needs the severity it was confirmed as\n"),
        ('  - {at: "ten past", kind: alert_fired}\n', 5,
         "events[0].at: expected \"HH:MM\", \"HH:MM+1d\", \"YYYY-MM-DD HH:MM\" or \"YYYY-MM-DD\" (got 'ten past')"),
    ],
)  # fmt: skip
def test_bad_timelines_exit_2(tmp_path: Path, events: str, line: int, message: str) -> None:
    path = _write(tmp_path, f"\nincident: X\ndate: 2027-03-05\nevents:\n{events}")
    result = _replay(str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ce-drill: {path}:{line}: {message}")
    assert result.stderr.count("\n") == 1


def test_unknown_timeline_names_the_bundled_ones() -> None:
    result = _replay("INC-1999-404")
    assert result.exit_code == 2
    assert "bundled: INC-2024-001" in result.stderr


def test_what_if_an_earlier_rollback_decision() -> None:
    args = [
        "INC-2024-001",
        "--json",
        "--what-if",
        "rollback_decided=14:31",
        "--replications",
        "400",
        "--seed",
        "3",
    ]
    first, second = _replay(*args), _replay(*args)
    assert first.stdout == second.stdout  # deterministic per seed
    what_if = json.loads(first.stdout)["what_if"]
    # The agent coordinator's 10-minute RTO (L570) is stricter than P1's 15 minutes.
    assert (what_if["rto_s"], what_if["rto_of"]) == (600.0, "agent_coordinator")
    earlier, actual = what_if["scenarios"]
    assert (earlier["label"], earlier["decision_s"]) == ("what-if", 60.0)
    assert (actual["label"], actual["decision_s"]) == ("as decided", 1500.0)
    assert actual["p_rto_met"] == 0.0  # 25 minutes in, a 10-minute RTO is already gone
    assert earlier["p_rto_met"] > 0.05
    assert earlier["ci95"][0] < earlier["p_rto_met"] < earlier["ci95"][1]
    assert earlier["restore_p50_s"] < actual["restore_p50_s"]
    assert what_if["actual_restore_s"] == 3600.0


@pytest.mark.parametrize("spec", ["rollback=14:40", "rollback_decided", "rollback_decided=lunch"])
def test_bad_what_if(spec: str) -> None:
    result = _replay("INC-2024-001", "--what-if", spec)
    assert result.exit_code == 2
    assert "--what-if" in result.stderr
