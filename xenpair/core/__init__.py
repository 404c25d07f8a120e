"""Pure decisions (plan) and the executor (apply). No printing, prompting or exiting here."""
