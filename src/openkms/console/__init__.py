"""The web console (issue 6): log on, keys and aliases in the browser, through the service layer."""

# Here rather than in app.py: asgi.py bounds the console's request bodies at start, and makes the
# console itself (Jinja2 and its pages) only on its first request.
MAX_FORM_BYTES = 64 * 1024
