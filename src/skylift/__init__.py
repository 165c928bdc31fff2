"""skylift: move an organization's mail, calendars, contacts and directory to a hosted suite."""

__version__ = "0.1.0"
