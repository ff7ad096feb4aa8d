// NormalWorld: placeholder, filled by its issue.
