"""Patches: proposed changes, their inspection, gating, application and revert."""
