// Mediator: placeholder, filled by its issue.
