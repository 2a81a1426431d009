"""Reports for people: SLA forecasts as HTML, Markdown and JSON, with their charts.

:mod:`ce_drill.report.forecast` builds and writes a forecast report;
:mod:`ce_drill.report.charts` holds the charts, each a function taking a
Matplotlib ``Axes``.  Nothing is imported here, so that commands which do not
draw do not pay for Matplotlib.
"""
