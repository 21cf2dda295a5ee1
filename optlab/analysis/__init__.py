"""Analysis of objectives and runs: stationary points (``stationary``)."""
