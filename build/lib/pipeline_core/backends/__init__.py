"""Backends behind the ports in ``backends.base``: local (default) now, IBM later."""
