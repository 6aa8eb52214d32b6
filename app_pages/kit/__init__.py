"""Helpers of the app's pages, one concern each: session, runs, jobs, charts, widgets, the address, text, navigation."""
