"""Benchmarks of the zero-copy paths: what each one buys, per driver, against the memory-bandwidth limit.

The timed code lives in bench/ (pytest-benchmark modules); this package holds what they stand on:
the transfer routes and their verification, round planning, the figures and their ratios, the
machine information, the per-cell bench.json and the printed table. What `vkzc report` imports
(figures, storage, machine, table) needs neither numpy nor a Vulkan loader.
"""
