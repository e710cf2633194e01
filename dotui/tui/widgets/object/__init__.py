"""The object view: one selected instance, in tabs."""

from .view import ObjectView

__all__ = ["ObjectView"]
