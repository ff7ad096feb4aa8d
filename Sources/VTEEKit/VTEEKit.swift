// VTEEKit: placeholder, filled by its issue.
