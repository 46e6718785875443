"""The chaos suite: reproducible fault experiments on the real hub, broker and store."""
