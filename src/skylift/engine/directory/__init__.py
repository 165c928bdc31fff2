"""Directory sync: map, scope, match, plan, preview and snapshot."""
