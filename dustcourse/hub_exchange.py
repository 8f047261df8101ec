"""nbgrader's exchange for the course's hub: submissions only their student and the
instructors can read.

Stock ``nbgrader submit`` leaves a submission in the exchange's ``inbound/`` readable by
everyone (folders 0755 and 0777, files 0644): other students cannot list ``inbound/``, but
one who learnt a folder's full name could read it. :class:`PrivateSubmit` (the students'
``c.ExchangeFactory.submit``, written by :mod:`dustcourse.hub`) closes the submission to
everyone but the student and the group of ``inbound/``, which is the instructor's: new
folders in the setgid ``inbound/`` (mode 2733, nbgrader's) take its group.
"""

from __future__ import annotations

import os

from nbgrader.exchange.default import ExchangeSubmit


class PrivateSubmit(ExchangeSubmit):
    """``nbgrader submit`` (the Assignment List's *Submit*) with a private submission."""

    def copy_files(self):
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, folders, files in os.walk(dest):
            for name in folders:
                os.chmod(os.path.join(folder, name), 0o750)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o640)
        os.chmod(dest, 0o770)  # the instructors may remove it later, as nbgrader intends
