"""Developer tools of the repository (not installed): corpus recording, demo recording."""
