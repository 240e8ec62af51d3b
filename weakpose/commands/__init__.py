"""Command-line entry points that join several rooms (data with figures, ...): the top floor of the package."""
