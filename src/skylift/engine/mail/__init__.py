"""Mail: plan a folder's copy, run it, verify it, report it."""
