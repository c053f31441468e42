"""The CiteLens benchmark, ``python -m eval.bench`` (what it measures: run.py's docstring; bench/README.md).

run.py is the command line and the run; each stage runs in a fresh interpreter (common.run_stage) and lives in
encode.py (``encode``, ``quality``), build.py (``build``, ``scale_build``), make.py (``make``) or serve.py
(``serve``); common.py holds what the stages share, data.py the generated corpus and synthetic vectors, and
report.py with tables.py writes bench.md and bench.png from bench.json.
"""
