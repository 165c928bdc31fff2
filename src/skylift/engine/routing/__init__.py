"""Coexistence and cut-over, protocol-free: routing plans, map contents, loop and pre-flight
decisions, probe verdicts. The MTA writers and the SMTP probe live in ``connectors/mta``."""
