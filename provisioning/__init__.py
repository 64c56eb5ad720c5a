"""Orders of VoB SJF commissions and staff access: tables, state machine, routing, services, outbox.

Imports only `catalog` (ARCHITECTURE §2).
"""
