"""Human handoff: a visitor reaches a person, an operator answers, the bot steps back."""
