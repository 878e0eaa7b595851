"""The instructor's workflow around grading: generate, collect, status and export, rosters,
deadlines and late penalties, and the gradebook's exports (nbgrader CSV, Canvas, Gradescope and
HTML)."""
