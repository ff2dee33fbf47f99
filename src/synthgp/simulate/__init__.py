"""Running a generation: one block (block.py: people, the engine's simulation, the block's tables),
every block in process or on Dask workers (blocks.py), and the run that stages, loads, exports and
moves the output into place (run.py)."""
