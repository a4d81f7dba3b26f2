"""The RAM policy language: documents, conditions, evaluation, and the built-in system policies."""
