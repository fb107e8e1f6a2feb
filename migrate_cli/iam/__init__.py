"""IAM service accounts for the migration: least-privilege roles and policies, planned and applied.

config -> target (account via STS, region) -> desired (roles, policies, user) -> validate -> planner (diff
against IAM, exact calls) -> apply. `evaluate` is a local stand-in for IAM policy simulation.
"""
