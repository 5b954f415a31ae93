"""The Textual dashboard. Talks to the engine only through its public API."""
