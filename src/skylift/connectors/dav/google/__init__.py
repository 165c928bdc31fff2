"""Google Workspace calendars through the Calendar API v3 (``events.import`` keeps iCalUID)."""
