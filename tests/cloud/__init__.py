"""Driver contract tests: the same cases on the in-memory Nova and on the lab's real Nova."""
