"""Where and as whom student code runs, and making sure none of it outlives grading.

One idea per module:
- box.py: the sandbox of one grade (its folder, user, isolation, limits) and open_sandbox;
- user.py: the sandbox user (claimed per run, created on demand) and the interpreter it runs;
- access.py: what the sandbox user may reach, checked by a probe and closed before any student code runs;
- kernel.py: namespaces through bubblewrap, where the machine allows them;
- processes.py: the process table, the subreaper, and killing every process student code left;
- files.py: root's private folders, and deleting every file the sandbox user left;
- install.py: copying a submission in without following links;
- mapped.py: forbidden packages found in the worker's memory map, from outside.
"""
from .box import OUTPUT_FILE_LIMIT, WORKER_ENVIRONMENT, Sandbox, describe_interpreter, open_sandbox  # noqa: F401
