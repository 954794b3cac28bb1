"""The desktop app (PySide6). Nothing outside this package imports Qt.

Threads: the GUI thread only paints and reads one page of rows at a time; queries and edits run on
background lanes (lanes.py), thumbnails and previews in a thread pool (thumbnails.py), captioning
and questions on one long-lived worker thread (worker.py), folder watching on the librarian's.
"""
