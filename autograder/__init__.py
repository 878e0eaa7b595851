"""The course's grading tool: test helpers, a sandboxed grading engine, a gradebook and exports."""

__version__ = "0.1.0"
