"""Client setup: which servers a user's mail programs should use today, in each client's format.

Pure: settings per side (on-prem or cloud) from the target profile, the routing state and the
admin's TOML overrides; Thunderbird autoconfig XML, Outlook Autodiscover POX and JSON, Apple
configuration profiles; and a simulator of each client's probe order over zone-file DNS.
"""
