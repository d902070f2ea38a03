"""Point-in-time views: state folded from the event log up to a seq, never written."""
