"""One flat function per job, read top to bottom: segment, eda, score, migrate."""
