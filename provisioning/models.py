"""SQL tables of orders, decisions, delegations, audit rows and the mail outbox."""
