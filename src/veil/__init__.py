"""Veil: a privacy vault and leak-accountability service for delivery platforms."""

__version__ = "0.1.0"
__all__ = ["__version__"]
