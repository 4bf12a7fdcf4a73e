"""Discord glue, the command line and the game rules."""
