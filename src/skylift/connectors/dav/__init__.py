"""Calendar and contact connectors: CalDAV/CardDAV over httpx, ICS and VCF files, behind ``base.py``."""
