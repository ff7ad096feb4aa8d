// SecureWorld: placeholder, filled by its issue.
