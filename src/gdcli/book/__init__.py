"""The book itself: its worked examples, its listings, its errata and its log line."""
