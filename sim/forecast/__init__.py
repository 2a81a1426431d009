"""SLA forecasts: how likely the manual's promises are to hold over a period, by Monte Carlo.

Many replications of a quarter (or any period) of the incident-response
model, each on its own seed, summed up as attainment probabilities with
confidence intervals: per service and calendar month, P(meeting the
availability target); per severity, P(RTO, RPO, response time and cadence
met).  What-if worlds and a sensitivity (tornado) analysis run on the same
seeds, so their differences are sharp.

Pure: no processes, no files, no clock.  ``ce_drill.forecast`` runs the
same forecast on a process pool or a Dask cluster.
"""

from sim.forecast.jobs import Batch, Job, Spec, child_seed, run_job
from sim.forecast.layout import Layout
from sim.forecast.levers import LEVERS, Lever
from sim.forecast.montecarlo import (
    DEFAULT_REPLICATIONS,
    MAX_REPLICATIONS,
    ForecastError,
    Progress,
    run_forecast,
)
from sim.forecast.period import MONTH_DEFINITION, Period, PeriodError, days_from, parse_period, quarter_of
from sim.forecast.result import Execution, Forecast, Precision
from sim.forecast.runner import Runner, SerialRunner

__all__ = [
    "DEFAULT_REPLICATIONS",
    "LEVERS",
    "MAX_REPLICATIONS",
    "MONTH_DEFINITION",
    "Batch",
    "Execution",
    "Forecast",
    "ForecastError",
    "Job",
    "Layout",
    "Lever",
    "Period",
    "PeriodError",
    "Precision",
    "Progress",
    "Runner",
    "SerialRunner",
    "Spec",
    "child_seed",
    "days_from",
    "parse_period",
    "quarter_of",
    "run_forecast",
    "run_job",
]
