"""Where a price comes from: reference sources as data, their documents, id matching, precedence and the guard."""
