"""One module per storage protocol, behind one interface (base.py), found by scheme (registry.py)."""
