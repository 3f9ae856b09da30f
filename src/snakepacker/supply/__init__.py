"""What an image is made of, read from its own files: SBOMs, inventories, file
differences."""
