"""Calendars and contacts: plan per collection, run, repair, verify, free/busy."""
