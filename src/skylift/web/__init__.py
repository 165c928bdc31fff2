"""HTTP surfaces: the autoconfig service that hands mail clients their settings."""
