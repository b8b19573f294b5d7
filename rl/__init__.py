"""rl package (grows with its issue)."""

__all__: list[str] = []
