"""Data in: the registry of datasets, IDX files, fetching, preprocessing, a person's digit."""
