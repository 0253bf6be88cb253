"""crampbot's Discord side: slash commands and daily posts, rendered from `knowledge`."""
