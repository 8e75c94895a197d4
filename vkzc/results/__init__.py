"""Result records: one per conformance case, versioned, written as each case finishes."""
