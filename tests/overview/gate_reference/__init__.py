"""A frozen copy of the PDL gate as of commit bf6d255, kept only for tests/overview/test_gate_differential.py."""
