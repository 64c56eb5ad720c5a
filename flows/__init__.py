"""Prefect flows: thin orchestration over catalog, provisioning and overview (one flow per file)."""
