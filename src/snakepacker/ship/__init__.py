"""Publishing: pushes, multi-platform lists, the CI matrix, SBOMs stored in registries,
signatures."""
