"""Writes of the maintenance app, one module per job: windows (and their occurrences),
occurrences (cancel, restore one), freezes, drain, backups, checklists, reminders (what to
tell whom), outbox (sending) and tick (the scheduler).
Callers import the module that owns the function."""
