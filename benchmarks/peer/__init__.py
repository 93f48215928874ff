"""The peer benchmark's parts: the sandbox server it runs in a child process, the check of
what each tool booked, and the side-by-side table (`benchmarks.bench_peer` ties them)."""
