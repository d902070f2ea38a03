"""The ``tracegraph`` command line."""
