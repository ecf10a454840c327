"""Cogs: thin command handlers over the service."""
