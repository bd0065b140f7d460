"""Teaching: the Explain panel, concrete-function traces and the Training panels."""
