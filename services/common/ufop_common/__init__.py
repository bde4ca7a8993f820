"""Shared library of the UFOP platform: configuration, stores, auth, errors, schemas."""
