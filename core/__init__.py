"""The provider engine: a Matter node and the OTA logic. Never imports the UI."""
