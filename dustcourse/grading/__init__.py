"""Instructor grading pipeline on top of nbgrader.

The coordinator (:mod:`.autograde`) builds the assignment's kit once (:mod:`.worker`:
the instructor's cells and tests from the gradebook, the source files, nbgrader's
configuration) and dispatches one task per submission to the workers of an executor
(:mod:`.executors`: local processes or Dask distributed). A worker runs every step of a
submission in a private course folder:

1. :mod:`.prepare`: nbgrader's sanitising step (locked cells and tests restored,
   missing cells added back, files copied from the source), checked against the kit;
2. :mod:`.execute`: the notebook runs in a sandbox (:mod:`.sandbox`, a warm kernel from
   :mod:`.warm` where one is ready), with no access to the gradebook;
3. scoring: nbgrader's own preprocessors (:func:`.autograde.record`), then the
   robustness run's judgement (:mod:`.robustness`).

The coordinator writes the results into the course's gradebook in batched
transactions (:func:`.autograde.record_batch`) and never executes student code.
"""
