"""The discrete-event model of incident response (SimPy): see :func:`simulate`."""

from sim.model.engine import ModelError, simulate
from sim.model.records import IncidentRecord, ServiceMonth, SimResult

__all__ = ["IncidentRecord", "ModelError", "ServiceMonth", "SimResult", "simulate"]
