// TrustedApps: placeholder, filled by its issue.
