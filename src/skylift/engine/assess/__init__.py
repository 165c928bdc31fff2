"""Assessment and wave planning: inventory checks, estimates, files, the HTML page, waves."""
