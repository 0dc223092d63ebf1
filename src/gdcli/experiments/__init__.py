"""Experiments: run folders (folders.py, naming.py, config_file.py), the table of the runs in a
folder (table.py), the grid of a sweep (grid.py) and running commands side by side (pool.py).

The CLI's `gdcli train --run-dir`, `gdcli runs` and `gdcli sweep` are thin layers over these.
"""
