"""Figures: one module per kind, one style (optlab.plots.style) for all."""
from .style import color_for, figure, save

__all__ = ["color_for", "figure", "save"]
