"""The fault harness's parts: the program it runs, what it counts, and one module per scenario
(kill points, fault storms, people's edits). `benchmarks.fault_harness` is the command."""
