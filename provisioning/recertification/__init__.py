"""Commission review (docs/recertification.md): memberships that end, and recertification (behörighetskontroll).

common: the rules (ReviewConfig), the units, the review log, the recipients; models: the tables; expiry: warnings
before a membership ends and the record of its end; rounds: opening a round, reminders, lapses, closing; decisions:
the manager's side (who may review, start, decide, page reads); delegations: the ordering right's delegations, whose
holders review too. The deadlines in business days, the reminders' timing and the delegation period are shared with
the log follow-up (kernel.review, D-53).
"""
