"""Log follow-up (systematisk logguppföljning, HSLF-FS 2016:40 4 kap. 9 §; docs/log-followup.md).

rules: the vocabulary, the rules and the sample (pure); models: the tables; rounds: opening rounds with their tasks,
overdue rounds and reminders; tasks: reviewing one access; delegations: who reviews a unit's log; summary: the
monthly summary; queries: what the pages show; mail: what the reviewers are sent. The deadlines in business days,
the reminders' timing and the delegation period are shared with recertification (kernel.review, D-53).
"""
