"""`python -m grader batch`: a whole class, graded locally, with a class overview.

Steps, in order:
1. find the submissions: one subfolder or .zip per student, or Gradescope's
   "Export Submissions" zip (or that zip unpacked), whose submission_metadata.yml
   names the students;
2. skip the submissions graded before whose files, cases and grader are unchanged
   (unless --force);
3. grade the rest in parallel, one grading process per job, each with the same
   engine and isolation as `grade`; a crash, a timeout or a hostile submission
   costs only that submission;
4. write each student's report.html and results.json, then grades.csv, canvas.csv
   and the class overview index.html.

Each module holds one of these concerns: submissions.py finds the submissions and reads
Gradescope's export metadata (step 1), pool.py grades them in parallel and keeps each
grading process to a core (steps 2 and 3), report.py writes the class's outputs (step 4).
"""
from .submissions import Entry, discover, parse_export_metadata  # noqa: F401
from .pool import Outcome, available_cores, fingerprint, grade_one, grader_sha, pinned_cores, run_batch  # noqa: F401
from .report import Progress, overview_context, write_canvas_csv, write_grades_csv, write_overview  # noqa: F401
