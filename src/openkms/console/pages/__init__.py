"""The console's pages, one module each, over the plumbing in ``console/web.py``."""
