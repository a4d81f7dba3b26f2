"""The web console (issue 6): log on, keys and aliases in the browser, through the service layer."""
