"""Domain-free building blocks: base model, encryption, audit trail, jobs, signals, errors."""
