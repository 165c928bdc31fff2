"""Directory connectors: LDAP/AD sources and targets, SCIM targets, behind ``base.py``."""
