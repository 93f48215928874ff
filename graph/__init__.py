"""Microsoft Graph access for the reverse mentoring worker.

This package knows Graph (auth, HTTP, paging, batching, throttling, resource shapes) and
nothing about mentoring programs: `graph` never imports `worker`. The sandbox tenant that
tests, the demo and benchmarks run against lives in `graph.sandbox`.
"""
