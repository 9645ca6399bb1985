"""The benchmarks, run from the repository's root as `python -m bench NAME` (`python -m bench`
lists them; docs/performance.md has what they measured), and the harness they share with the
end-to-end tests (bench/harness.py)."""
