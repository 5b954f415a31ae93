"""The Interaction Model: messages, the data model, the server and a client."""
