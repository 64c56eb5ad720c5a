"""The web forms: what each form asks, its Swedish labels and help, and its templates (forms/templates)."""
