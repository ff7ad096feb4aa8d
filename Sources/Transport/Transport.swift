// Transport: placeholder, filled by issue 6.
