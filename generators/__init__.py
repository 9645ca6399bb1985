"""The programs that write the repository's generated files from the code (docs/development.md,
"Generated files"). They import soulsync and run in the development install, except lock.py,
which runs by its path with the standard library only, before anything is installed."""
