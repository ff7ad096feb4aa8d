// TEEClient: placeholder, filled by its issue.
