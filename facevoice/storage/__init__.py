"""Everything facevoice keeps: the data folder, pending attempts, and the user database."""
