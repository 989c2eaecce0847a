"""Cases and their workflow: steps, interventions, attachments, notes."""
