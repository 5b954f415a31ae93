"""BDX (Bulk Data eXchange): messages and the sender state machine."""
