"""lakeprobe: continuous functional testing of scientific data lakes."""

__version__ = "0.2.0"
