"""Running a simulation: the engine that steps pathways through time over a block of patients,
blocks in process or on Dask workers, and the atomic run that stages, loads and exports."""
