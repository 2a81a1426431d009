"""Tabletop: replay real incident timelines against the manual, and run facilitated exercises.

The manual asks for quarterly incident-response drills and tabletop
exercises, and for post-mortems within fixed deadlines.  A *replay* scores a
timeline — real or planned — against every promise it can be judged on; an
*exercise* plays a scenario with a team, in simulated time, and ends with the
same verdicts and a post-mortem draft in the manual's template.
"""
