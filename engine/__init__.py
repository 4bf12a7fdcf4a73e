"""Everything about poems and the model. Imports neither bot nor storage."""
