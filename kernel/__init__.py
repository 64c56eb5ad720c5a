"""The ground floor: what every part of npo-access shares and that imports nothing of the project.

Swedish time and business days (`clock`), SQL column types (`sqltypes`), the free-text rule (`text`), the one
domain-error base (`errors`), the mail outbox with its templates (`outbox`, `mail`), and the settings with the
process's resources (`settings`, `runtime`).
"""
