// Platform: placeholder, filled by its issue.
