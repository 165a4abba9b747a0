"""Training jobs as the web server sees them, without TensorFlow: what to train, the class queue, runs, progress.

Modules (imported from the module): recipes.py (the recipe and one run's spec), jobs.py (`JobRegistry`: the fair
queue, live progress, Stop), job_board.py, job_schedule.py and job_cost.py (the shared queue on disk, its plan and
each job's cost), job_protocol.py (what the server and a worker agree on), progress.py (progress events), runs.py
(`RunStore`: a learner's finished runs on disk), export.py (a run as a notebook) and executors/ (where jobs run).
"""
