"""A local demo organization: real Dovecot servers and sample mailboxes, for the demo,
the tests and the benchmarks."""
