"""Runtimes the platform runs on: the embedded default and services mode."""
