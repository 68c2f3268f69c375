"""ftsafety: the helper library of the course on the safety of fine-tuning aligned language models."""
__version__ = "0.1.0"
