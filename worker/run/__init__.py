"""The run: observe, plan, apply, summarise (`worker.run.job`), and its summary."""
