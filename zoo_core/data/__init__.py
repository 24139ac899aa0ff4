"""Data sets the zoo can use with no network: they ship inside installed packages."""
