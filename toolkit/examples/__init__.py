"""The book's listings as runnable commands (``toolkit examples imdb | boston | pima |
overfitting``); each module's ``run`` does the same from Python and returns the figures."""
