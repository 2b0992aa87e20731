"""dispatcher: send personal IO app messages in bulk from a campaign file.

The rooms (see README): ``campaign`` reads and validates input, ``ioapi`` talks to IO,
``pacing`` spends the request budget, ``ledger`` remembers every row, ``pipeline`` ties
them together, ``simulator`` is an embedded IO API for demos, tests and benchmarks.
"""

__version__ = "0.1.0"
