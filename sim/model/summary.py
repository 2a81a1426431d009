"""Headline figures of one run: attainment by severity and service, and where the time goes."""

from __future__ import annotations

import pandas as pd

from sim.model.records import SimResult

STAGES = ("detect_s", "acknowledge_s", "diagnose_s", "mitigate_s")


def by_severity(result: SimResult) -> pd.DataFrame:
    """Per severity: incidents, share meeting RTO, RPO, response time and cadence, and restore times."""
    frame = result.to_frame()
    if frame.empty:
        return pd.DataFrame(columns=["severity", "incidents"])
    frame = frame[frame["severity"].notna()]
    grouped = frame.groupby("severity")
    out = pd.DataFrame(
        {
            "incidents": grouped.size(),
            "rto_met": grouped["rto_met"].mean(),
            "rpo_met": grouped["rpo_met"].mean(),
            "response_met": grouped["response_met"].mean(),
            "comms_met": grouped["comms_met"].mean(),
            "restore_p50_s": grouped["time_to_restore_s"].median(),
            "restore_p90_s": grouped["time_to_restore_s"].quantile(0.9),
        }
    )
    return out.reset_index()


def by_service(result: SimResult) -> pd.DataFrame:
    """Per service: months meeting the availability target, mean and worst monthly availability."""
    frame = result.services_frame()
    grouped = frame.groupby("service", sort=False)
    out = pd.DataFrame(
        {
            "target": grouped["target"].first(),
            "months": grouped.size(),
            "months_met": grouped["met"].sum(),
            "availability_mean": grouped["availability"].mean(),
            "availability_worst": grouped["availability"].min(),
            "downtime_s": grouped["downtime_s"].sum(),
        }
    )
    return out.reset_index()


def stage_breakdown(result: SimResult) -> pd.DataFrame:
    """Median and 90th percentile of each stage: detect, acknowledge, diagnose, mitigate."""
    frame = result.to_frame()
    rows = []
    for stage in STAGES:
        values = frame[stage].dropna() if stage in frame else pd.Series(dtype=float)
        rows.append(
            {
                "stage": stage.removesuffix("_s"),
                "incidents": int(values.size),
                "p50_s": float(values.median()) if values.size else None,
                "p90_s": float(values.quantile(0.9)) if values.size else None,
            }
        )
    return pd.DataFrame(rows)
