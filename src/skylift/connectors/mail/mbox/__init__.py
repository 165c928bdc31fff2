"""mbox archives: the connector and the streaming ``From `` scanner."""
