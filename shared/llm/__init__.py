"""LLM providers behind one interface; SDK objects and errors stop at this boundary."""
