"""The image family on an engine: Dockerfiles rendered from the family data, CPython
tarballs fetched and checked, distro roots bootstrapped, images built in order."""
