"""Instructor grading pipeline on top of nbgrader.

Grading is split into three steps so that execution can run anywhere:

1. :mod:`.prepare` (coordinator): nbgrader's own sanitising step (locked cells and
   tests restored, missing cells added back, files copied from the source) writes
   each submission into ``autograded/`` and registers it in the gradebook.
2. :mod:`.execute` (workers): each prepared notebook runs in a sandbox
   (:mod:`.sandbox`) from bytes to bytes, with no access to the gradebook.
3. :mod:`.record` (coordinator): nbgrader's scoring preprocessors read the executed
   notebook and write the gradebook, as results arrive.

:mod:`.autograde` ties the steps together with a pool of worker processes.
"""
