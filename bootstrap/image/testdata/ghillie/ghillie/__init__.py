"""Stand-in for the Ghillie package used by the image tests."""
