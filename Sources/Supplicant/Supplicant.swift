// Supplicant: placeholder, filled by its issue.
