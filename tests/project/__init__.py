"""The repository as a whole: the import rules, the generated files, the locks, the docs'
commands and figures, the benches."""
