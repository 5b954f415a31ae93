"""The engine as a protocol: commands with ids, numbered value-only events fanned out to any number
of subscribers, the engine's published snapshot, and their JSON form for the control socket."""
